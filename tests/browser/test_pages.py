"""The pages as people use them, in Chromium: a citizen submits with a photo and follows the ticket, staff sign in
and answer, the citizen rates, the board shows it; what must never show (HTML run as HTML, a private complaint's
text); every page on a phone and a PC screen, without console errors or serious accessibility violations."""

from __future__ import annotations

import json
import re
import secrets

import photo_samples as samples
import pytest
from browser_helpers import DESKTOP, PHONE, STAFF_PASSWORD, axe_violations, screenshot, watch
from integration.loop_helpers import wait_until

BURNING = "上望街道薛里村有人焚烧垃圾，黑烟很大，味道刺鼻"


def submit(
    w,
    text: str,
    *,
    photo: bytes | None = None,
    public: bool = True,
    district: str | None = None,
    phone: str | None = None,
) -> int:
    """Fills and sends the complaint form on `/`; the ticket number the page shows."""
    page = w.goto("/")
    page.get_by_label("投诉内容").fill(text)
    if photo is not None:
        page.set_input_files("#album", files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": photo}])
        page.wait_for_selector("#photo-preview:not([hidden])")
    if district:
        page.get_by_label("或选择所在镇街").select_option(district)
    if phone:
        page.get_by_label("手机号（选填）").fill(phone)
    if not public:
        page.get_by_label("在议事厅公开显示").uncheck()
    page.get_by_role("button", name="提交").click()
    number = page.wait_for_selector("#ticket-no").text_content()
    return int(number)


def car_moving_request(stack, plate: str, requester: str, owner: str) -> dict:
    """A driver's car-moving request on the stack, made as the README makes it: the owner's car in the registry (as
    `complaints vehicles import` stores it), the driver's phone verified by the code in the outbox, the request.
    Its view, the driver's token and the owner's link, read from the owner's SMS in the outbox."""
    stack.register_vehicle(plate, owner)
    assert stack.request("POST", "/verify", {"phone": requester}).status == 202
    (code,) = [re.search(r"\d{6}", e["message"]).group() for e in stack.outbox() if e["endpoint"].endswith(requester)]
    token = stack.request("POST", "/verify/confirm", {"phone": requester, "code": code}).json()["token"]
    body = {"plate": plate, "location": "万松路12号门口"}
    created = stack.request("POST", "/car-moving", body, headers=bearer(token))
    assert created.status == 201, created.body

    def owners_link():
        sms = [e["message"] for e in stack.outbox() if e["endpoint"] == owner and e["protocol"] == "sms"]
        found = re.search(r"https?://[!-~]+/car-moving/owner/[A-Za-z0-9_-]+", sms[-1]) if sms else None
        return found and found.group()

    link = wait_until(owners_link, timeout=15, every=0.2)
    assert link, f"no SMS with a link reached the owner of {plate}"
    return {"view": created.json(), "token": token, "link": link}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def saved_tickets(page) -> list[dict]:
    return page.evaluate("() => JSON.parse(localStorage.getItem('complaint-desk.tickets') || '[]')")


def board_item(w, ticket_no: int, timeout: float = 20, having: str = ""):
    """The board's item for the ticket once it is there (the board shows a ticket once dispatched or in triage),
    and matches `having` (a CSS selector suffix). The board is a projection of the tickets, written from their
    stream: a change shows there a moment after it is made."""

    def look():
        page = w.goto("/board")
        return page.query_selector(f"li[data-ticket-no='{ticket_no}']{having}")

    item = wait_until(look, timeout=timeout, every=0.5)
    assert item is not None, f"ticket {ticket_no} never appeared on the board"
    return item


def sent_back(stack, staff_pool, staff: dict[str, str], ticket: dict) -> None:
    """The agency returns the ticket (退单) through the staff API: it waits in the triage desk's inbox."""
    token = staff_pool.token(staff["email"], staff["password"])
    returned = stack.request(
        "POST",
        f"/agency/tickets/{ticket['id']}/return",
        {"reason": "不属于本单位职责"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert returned.status == 200, returned.body


def sign_in(w, path: str, email: str, password: str = STAFF_PASSWORD):
    page = w.goto(path)
    page.get_by_label("工作邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("#whoami")
    return page


def open_in_inbox(page, ticket_no: int):
    """Clicks the ticket in the inbox, refreshing until it is there (dispatch takes a moment)."""

    def find():
        row = page.query_selector(f".inbox-item[data-ticket-no='{ticket_no}']")
        if row is None:
            page.get_by_role("button", name="刷新").click()
            page.wait_for_selector("#inbox:not([aria-busy])")
        return row

    row = wait_until(find, timeout=20, every=0.5)
    assert row is not None, f"ticket {ticket_no} never reached the inbox"
    row.click()
    page.wait_for_selector(f"#detail h2:has-text('{ticket_no}')")


# ---------------------------------------------------------------- the citizen's way in


def test_a_complaint_with_a_photo_gets_a_ticket_number_kept_on_the_device_and_appears_on_the_board(new_page):
    w = new_page(PHONE)
    number = submit(w, BURNING, photo=samples.phone_jpeg(), district="上望街道", phone="138 1234 5678")
    assert number >= 10001
    (saved,) = saved_tickets(w.page)
    assert saved["ticket_no"] == number and saved["receipt"] and saved["id"]
    item = board_item(w, number)
    assert "焚烧垃圾" in item.text_content()

    def photo_shown():
        page = w.goto(f"/board/{number}")
        return page.query_selector("#ticket img.photo-full")

    img = wait_until(photo_shown, timeout=20, every=0.5)
    assert img is not None, "the photo never showed on the ticket's page"
    assert w.page.evaluate("img => img.complete && img.naturalWidth > 0", img)


def test_the_location_comes_from_the_browser_with_permission(new_page, stack):
    w = new_page(PHONE, geolocation={"latitude": 27.785, "longitude": 120.72}, permissions=["geolocation"])
    page = w.goto("/")
    page.get_by_role("button", name="使用我的当前位置").click()
    page.wait_for_selector("#locate-status:has-text('已获取位置')")
    page.get_by_label("投诉内容").fill("这里的路灯坏了一个月了，晚上很黑")
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector("#ticket-no")
    (saved,) = saved_tickets(page)
    ticket = stack.wait_for_status(saved)
    assert ticket["location"] == {"lat": 27.785, "lng": 120.72, "source": "app"}
    assert ticket["district"] == "上望街道"


# ---------------------------------------------------------------- the answer loop through the pages


def test_staff_sign_in_accept_and_reply_then_the_citizen_reads_the_answer_rates_5_and_the_board_shows_it_closed(
    new_page, eco_staff
):
    citizen = new_page(PHONE)
    number = submit(citizen, BURNING, phone="13812345678")

    staff = new_page(DESKTOP)
    page = sign_in(staff, "/agency", eco_staff["email"])
    assert "市生态环境局" in page.text_content("#whoami")
    open_in_inbox(page, number)
    page.get_by_role("button", name="签收").click()
    page.wait_for_selector("#detail .status-accepted")
    page.get_by_label(re.compile("答复内容")).fill("已安排执法人员到场处置，焚烧点已取缔。")
    page.get_by_role("button", name="提交答复").click()
    page.wait_for_selector("#detail .status-answered")

    page = citizen.goto("/my")
    card = page.wait_for_selector(f"article[data-ticket-no='{number}']:not([aria-busy])")
    assert "已安排执法人员到场处置" in card.text_content()
    page.get_by_label("5 分 非常满意").check()
    page.get_by_label("已解决").check()
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_selector(f"article[data-ticket-no='{number}'] .status-closed")

    item = board_item(citizen, number, having=":has(.status-closed)")
    assert "★★★★★" in item.text_content()
    page = citizen.goto(f"/board/{number}")
    assert "已安排执法人员到场处置" in page.text_content("#ticket")
    assert "5 分" in page.text_content("#ticket")


def test_a_first_sign_in_with_a_temporary_password_asks_for_a_new_one(new_page, staff_pool, city):
    staff_pool.sync_groups(city)
    idp = staff_pool.idp
    idp.admin_create_user(
        UserPoolId=staff_pool.pool_id,
        Username="new@ruian.example",
        TemporaryPassword="Temp-Pass-1",
        MessageAction="SUPPRESS",
    )
    idp.admin_add_user_to_group(UserPoolId=staff_pool.pool_id, Username="new@ruian.example", GroupName="jtj")
    w = new_page(DESKTOP)
    page = w.goto("/agency")
    page.get_by_label("工作邮箱").fill("new@ruian.example")
    page.get_by_label("密码").fill("Temp-Pass-1")
    page.get_by_role("button", name="登录").click()
    page.get_by_label("新密码", exact=True).fill("Brand-New-Pass-7")
    page.get_by_label("再次输入新密码").fill("Brand-New-Pass-7")
    page.get_by_role("button", name="设置新密码并登录").click()
    assert "市交通运输局" in page.wait_for_selector("#whoami").text_content()


def test_an_expired_id_token_is_refreshed_without_signing_in_again(new_page, eco_staff):
    w = new_page(DESKTOP)
    page = sign_in(w, "/agency", eco_staff["email"])
    before = page.evaluate("() => JSON.parse(sessionStorage.getItem('complaint-desk.staff-session'))")
    # As if the hour were over: the page must trade its refresh token for a new ID token (REFRESH_TOKEN_AUTH).
    page.evaluate(
        "() => { const s = JSON.parse(sessionStorage.getItem('complaint-desk.staff-session'));"
        " s.expiresAt = Date.now() - 1000; sessionStorage.setItem('complaint-desk.staff-session', JSON.stringify(s)); }"
    )
    flows = []

    def cognito_call(request):
        if request.headers.get("x-amz-target", "").endswith(".InitiateAuth"):
            flows.append(json.loads(request.post_data)["AuthFlow"])

    page.on("request", cognito_call)
    page = w.goto("/agency")
    assert "市生态环境局" in page.wait_for_selector("#whoami").text_content()
    assert flows == ["REFRESH_TOKEN_AUTH"]
    after = page.evaluate("() => JSON.parse(sessionStorage.getItem('complaint-desk.staff-session'))")
    assert after["expiresAt"] >= before["expiresAt"] and after["refreshToken"] == before["refreshToken"]


def test_a_wrong_password_is_refused_with_a_message(new_page, eco_staff):
    w = new_page(DESKTOP)
    page = w.goto("/agency")
    page.get_by_label("工作邮箱").fill(eco_staff["email"])
    page.get_by_label("密码").fill("not-the-password")
    # moto answers a wrong password with a 400, which Chromium logs as a failed resource: expected here.
    page.get_by_role("button", name="登录").click()
    assert "邮箱或密码不正确" in page.wait_for_selector("#notice.notice-error").text_content()
    w.errors[:] = [e for e in w.errors if "400" not in e]


def test_the_triage_desk_sees_the_top_three_and_assigns_a_returned_ticket(
    new_page, stack, staff_pool, eco_staff, triage_staff
):
    citizen = new_page(PHONE)
    number = submit(citizen, BURNING)
    (saved,) = saved_tickets(citizen.page)
    assert stack.wait_for_status(saved)["status"] == "dispatched"
    sent_back(stack, staff_pool, eco_staff, saved)

    page = sign_in(new_page(DESKTOP), "/triage", triage_staff["email"])
    open_in_inbox(page, number)
    top3 = page.wait_for_selector("#top3").text_content()
    assert "环境保护" in top3 and "市生态环境局" in top3
    page.get_by_label("分派给").select_option("jtj")
    page.get_by_role("button", name="分派", exact=True).click()
    page.wait_for_selector("#notice.notice-ok:has-text('已分派给市交通运输局')")
    assert stack.wait_for_status(saved, ("dispatched",))["department"] == "市交通运输局"


def test_the_triage_desk_hides_a_question_from_the_board_with_a_reason(new_page, stack, triage_staff):
    citizen = new_page(PHONE)
    number = submit(citizen, "There is a lot of rubbish burning near my home every night")  # English: to triage
    (saved,) = saved_tickets(citizen.page)
    assert stack.wait_for_status(saved)["status"] == "triage"
    assert "rubbish burning" in board_item(citizen, number).text_content()

    page = sign_in(new_page(DESKTOP), "/triage", triage_staff["email"])
    open_in_inbox(page, number)
    page.get_by_label("理由（记入办理记录）").fill("含有不宜公开的内容")
    page.get_by_role("button", name="在议事厅隐藏").click()
    page.wait_for_selector("#detail ol.history li:has-text('在议事厅隐藏')")
    assert "含有不宜公开的内容" in page.text_content("#detail ol.history")

    item = board_item(citizen, number, having=".withheld")
    assert "已被管理员隐藏" in item.text_content()
    assert "rubbish burning" not in citizen.page.content()


# ---------------------------------------------------------------- the car owner's link (自助移车)


def test_the_car_owner_opens_the_sms_link_confirms_the_car_is_moved_and_the_driver_sees_it_moved(new_page, stack):
    asked = car_moving_request(stack, "浙C30001", "13800000061", "+8613900000077")
    w = new_page(PHONE)
    page = w.goto(asked["link"])  # the link as the SMS has it: the local stack's own address
    page.wait_for_selector("#owner:not([aria-busy])")
    assert "浙C30001" in page.text_content("#plate")
    assert "已挪好了吗" in page.text_content("#text")  # the city's wording (confirm_page)

    # No network at the first tap: the page says so and the button stays for another try.
    page.route("**/moved", lambda route: route.abort())
    page.get_by_role("button", name="已挪车，确认").click()
    assert "网络连接失败" in page.wait_for_selector("#notice.notice-error").text_content()
    page.unroute("**/moved")
    w.errors[:] = [e for e in w.errors if "ERR_FAILED" not in e]  # Chromium logs the aborted request

    page.get_by_role("button", name="已挪车，确认").click()
    assert "已确认挪车" in page.wait_for_selector("#text.notice-ok").text_content()
    assert page.query_selector("#moved").is_hidden() and page.query_selector("#notice").is_hidden()
    followed = stack.request("GET", f"/car-moving/{asked['view']['id']}", headers=bearer(asked["token"]))
    assert followed.status == 200 and followed.json()["status"] == "moved"

    # The link again (the owner taps the SMS twice): confirmed, nothing left to press.
    page = w.goto(asked["link"])
    page.wait_for_selector("#owner:not([aria-busy])")
    assert "已确认挪车" in page.text_content("#text") and page.query_selector("#moved").is_hidden()
    assert "13800000061" not in page.content()


def test_an_unknown_or_expired_owner_link_says_it_is_not_valid(new_page):
    w = new_page(PHONE)
    page = w.goto(f"/car-moving/owner/{secrets.token_urlsafe(24)}")
    page.wait_for_selector("#owner:not([aria-busy])")
    assert page.text_content("#text") == "链接无效或已过期"
    assert page.query_selector("#moved").is_hidden() and page.query_selector("#plate").is_hidden()
    w.errors[:] = [e for e in w.errors if "404" not in e]  # Chromium logs the API's 404 as a failed resource


# ---------------------------------------------------------------- what must never show


def test_html_and_script_in_a_complaint_show_as_text_everywhere(new_page, eco_staff):
    hostile = BURNING + '<img src=x onerror="alert(1)"><script>alert(2)</script><b id="injected">粗</b>'
    w = new_page(DESKTOP)
    number = submit(w, hostile)
    pages = [("/my", f"article[data-ticket-no='{number}']:not([aria-busy])")]
    board_item(w, number)
    pages += [("/board", f"li[data-ticket-no='{number}']"), (f"/board/{number}", "#ticket:not([aria-busy])")]
    for path, selector in pages:
        page = w.goto(path)
        shown = page.wait_for_selector(selector).text_content()
        assert "<script>alert(2)</script>" in shown, path
        assert page.query_selector("#injected") is None, path
        assert page.query_selector("img[src='x']") is None, path
    staff = new_page(DESKTOP)
    page = sign_in(staff, "/agency", eco_staff["email"])
    open_in_inbox(page, number)
    assert '<b id="injected">' in page.text_content("#ticket-text")
    assert page.query_selector("#injected") is None
    assert w.dialogs == [] and staff.dialogs == []


def test_a_complaint_not_to_be_shown_appears_on_the_board_without_its_text(new_page):
    private = "上望街道某小区物业乱收费，我是业主张某某"
    w = new_page(PHONE)
    number = submit(w, private, public=False)
    item = board_item(w, number)
    assert "未公开" in item.text_content()
    assert "物业乱收费" not in w.page.content()
    page = w.goto(f"/board/{number}")
    page.wait_for_selector("#ticket:not([aria-busy])")
    assert "未公开" in page.text_content("#ticket")
    assert "物业乱收费" not in page.content()


# ---------------------------------------------------------------- every page, phone and PC


@pytest.fixture(scope="module")
def shown_ticket(browser, site, stack, staff_pool, eco_staff):
    """For the pages' pictures: a dispatched ticket with a photo, on the board and in this device's list, and one
    returned by its agency, waiting in the triage desk's inbox with the classifier's suggestions."""
    context = browser.new_context(viewport=DESKTOP, base_url=site)
    w = watch(context.new_page())
    submit(w, "塘下镇韩田村附近的工厂晚上偷排污水，河水发黑发臭")  # for eco, to be returned
    number = submit(w, BURNING, photo=samples.phone_jpeg())
    shown, to_return = saved_tickets(w.page)  # newest first
    context.close()
    assert stack.wait_for_status(to_return)["department"] == "市生态环境局"
    stack.wait_for_status(shown)
    sent_back(stack, staff_pool, eco_staff, to_return)
    return {"ticket_no": number, "saved": [shown]}


@pytest.fixture(scope="module")
def owner_link(stack) -> str:
    """For the owner's page's pictures: the link of an owner whose car is not moved yet."""
    return car_moving_request(stack, "浙C30002", "13800000062", "+8613900000078")["link"]


PAGES = ["index", "my", "board", "ticket", "agency", "triage", "owner"]


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize("name", PAGES)
def test_every_page_fits_the_screen_without_errors_or_serious_accessibility_violations(
    new_page, request, name, viewport, eco_staff, triage_staff
):
    w = new_page(PHONE if viewport == "phone" else DESKTOP)
    if name == "owner":
        number, link = None, request.getfixturevalue("owner_link")
    else:
        shown_ticket = request.getfixturevalue("shown_ticket")
        number, link = shown_ticket["ticket_no"], None
    if name == "my":
        saved = json.dumps(json.dumps(shown_ticket["saved"]))
        w.page.add_init_script(f"localStorage.setItem('complaint-desk.tickets', {saved})")
    path = {"index": "/", "my": "/my", "board": "/board", "ticket": f"/board/{number}", "owner": link}.get(name)
    if path:
        page = w.goto(path)
        page.wait_for_selector("[aria-busy]", state="detached")
    else:
        staff = eco_staff if name == "agency" else triage_staff
        page = sign_in(w, f"/{name}", staff["email"])
        page.wait_for_selector("#inbox:not([aria-busy])")
        first = page.query_selector(".inbox-item")
        if first:
            first.click()
            page.wait_for_selector("#detail h2")
    page.wait_for_load_state("networkidle")
    screenshot(page, name if viewport == "desktop" else f"{name}-phone")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the {viewport} screen"
    violations = axe_violations(page)
    if violations is None:
        pytest.skip("axe-core is not installed (make browser: npm install --prefix tests/browser axe-core@4)")
    assert violations == []
