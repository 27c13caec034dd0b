"""`complaints` — train and try the classifier, run the local stack, subscribe agencies after a deploy."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

# The repository this package lives in (an editable install); defaults are relative to it.
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CITY = ROOT / "city" / "ruian.toml"
DEFAULT_MODEL = ROOT / "models" / "ruian-default"
BOOTSTRAP_CSV = ROOT / "build" / "bootstrap-ruian.csv"
# Rows per category of the bootstrap corpus: ~40 for each of a category's kinds of problem.
BOOTSTRAP_PER_CATEGORY = 1200


def _city(path: str | Path):
    from complaints.city import load_city

    return load_city(path)


def cmd_bootstrap_corpus(args: argparse.Namespace) -> int:
    from complaints_tools.bootstrap import Place, generate, write_csv

    city = _city(args.city)
    places = [Place(d.name, d.short, tuple(d.communities)) for d in city.districts]
    by = getattr(args, "by", "service")
    rows = generate(places, per_category=args.per_category, seed=args.seed, by_kind=by == "service")
    if by == "service":
        # Each kind of the corpus is a service of the catalogue, by name; the label is the service's code.
        codes = {s.name: s.code for s in city.services}
        missing = sorted({label for _, label in rows} - set(codes))
        if missing:
            print(f"{args.city}: no service for the corpus' kinds {missing}; use --by category", file=sys.stderr)
            return 2
        rows = [(text, codes[label]) for text, label in rows]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.out)
    print(f"wrote {len(rows)} complaints to {args.out}", file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from complaints_tools import training

    city = _city(args.city)
    from complaints_tools import corrections

    data = args.data
    if data is None:
        data = str(BOOTSTRAP_CSV)
        cmd_bootstrap_corpus(
            argparse.Namespace(city=args.city, out=data, per_category=args.per_category, seed=args.seed, by="service")
        )
    texts, labels = training.read_labelled(data, args.text_col, args.label_col, args.title_col)
    labels_are = corrections.label_kind(city, labels)
    if labels_are is None:
        print(
            f"{data}: the labels are neither all service codes, all categories nor all agency ids of {args.city}",
            file=sys.stderr,
        )
        return 2
    if len(set(labels)) < 2:
        print(f"{data}: need at least two classes, found {sorted(set(labels))}", file=sys.stderr)
        return 2
    digest, name = training.sha256_file(data), Path(data).name
    if args.labels:
        # The agencies' corrections join the data, in the data's own terms; the newest slice stays out for promote.
        rows = corrections.read(args.labels)
        train_rows, _ = corrections.split(rows, args.holdout)
        model = _model(args.model) if labels_are == "service" else None
        extra = corrections.as_labels(city, train_rows, labels_are, model)
        texts, labels = texts + [t for t, _ in extra], labels + [y for _, y in extra]
        digest = training.sha256_text(digest + training.sha256_file(args.labels))
        name = f"{name} + {len(extra)} corrections from {Path(args.labels).name}"
    words = city.tokenizer_words()
    result = training.fit(
        texts,
        labels,
        user_words=words,
        data_sha256=digest,
        seed=args.seed,
        progress=not args.quiet and sys.stderr.isatty(),
        labels_are=labels_are,
    )
    out = training.save(result, args.out, user_words=words, data_name=name, date=args.date)
    print(f"model written to {out}: {result.describe()}", file=sys.stderr)
    return 0


def _model(path: str | Path):
    from complaints.classifier.model import TextClassifier

    return TextClassifier.load(path)


def cmd_promote(args: argparse.Namespace) -> int:
    import shutil

    from complaints.classifier.model import ARTIFACT, VOCABULARY, WEIGHTS
    from complaints_tools import corrections

    city = _city(args.city)
    rows = corrections.read(args.labels)
    verdict = corrections.compare(city, _model(args.current), _model(args.candidate), rows, args.holdout)
    doc = {
        "held_out": verdict.held_out,
        "current_agency_accuracy": round(verdict.current, 4),
        "candidate_agency_accuracy": round(verdict.candidate, 4),
        "promote": verdict.promote,
    }
    print(json.dumps(doc))
    if not verdict.promote:
        why = "no held-out labels" if not verdict.held_out else "the candidate routes fewer of them right"
        print(f"refused: {why}; {args.current} stays in use", file=sys.stderr)
        return 1
    if args.install:
        for name in (ARTIFACT, VOCABULARY, WEIGHTS, "MODEL_CARD.md"):
            shutil.copyfile(Path(args.candidate) / name, Path(args.current) / f".{name}.new")
        for name in (ARTIFACT, VOCABULARY, WEIGHTS, "MODEL_CARD.md"):  # all copied before any is replaced
            (Path(args.current) / f".{name}.new").replace(Path(args.current) / name)
        print(f"installed in {args.current}: ship it with `sam build && sam deploy` (a new ModelLayer version)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from complaints.classifier.model import TextClassifier
    from complaints_tools import evaluate, training

    model = TextClassifier.load(args.model)
    texts, labels = training.read_labelled(args.data, args.text_col, args.label_col, args.title_col)
    if not texts:
        print(f"{args.data}: no labelled rows", file=sys.stderr)
        return 2
    from complaints_tools import corrections

    city = _city(args.city)
    data_labels = corrections.label_kind(city, labels)
    try:
        level = evaluate.level_of(city, model.labels, data_labels) if data_labels else None
    except ValueError as e:
        print(f"{args.data}: {e}", file=sys.stderr)
        return 2
    scored = evaluate.score(model, texts, labels, progress=sys.stderr.isatty(), level=level)
    classes = sorted({s.predicted for s in scored} | set(labels)) if level else model.classes_
    m = evaluate.metrics(scored, classes)
    if args.report:
        page = evaluate.write_report(m, args.report, model_name=str(args.model), data_name=Path(args.data).name)
        print(f"report written to {page}", file=sys.stderr)
    if args.json:
        keep = ("n", "accuracy", "macro_f1", "per_class", "precision_at_coverage", "at_threshold", "labels")
        doc = {k: m[k] for k in keep} | {"confusion": m["confusion"], "unknown_labels": m["unknown_labels"]}
        print(json.dumps(doc, ensure_ascii=False))
    else:
        print(evaluate.summary(m))
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from complaints.classifier.model import TextClassifier

    model = TextClassifier.load(args.model)
    city = _city(args.city)
    texts = (ln.rstrip("\n") for ln in sys.stdin if ln.strip()) if args.text == "-" else [args.text]
    for text in texts:
        p = model.predict(text)
        match = city.locate(text)
        reading = city.read(p.label)
        handlers = city.handlers(
            reading.service.code if reading.service else None, reading.category, match.district and match.district.name
        )
        main = handlers.main if (reading.service or reading.category) else reading.agency
        doc = {
            "service": reading.service.code if reading.service else None,
            "service_name": reading.service.name if reading.service else None,
            "category": reading.category,
            # The main handler's id: the service's department, or the district's town for a local service (none
            # while the district is unknown: such a ticket goes to triage).
            "agency": main.id if main else None,
            "co_agencies": [a.id for a in handlers.co],
            "confidence": round(p.confidence, 4),
            "top3": [[c, round(x, 4)] for c, x in p.top3],
            # True: the desk sends this text to triage whatever the confidence (see the model card).
            "no_evidence": p.no_evidence,
            "evidence": {"known_terms": p.evidence.known_terms, "script_share": round(p.evidence.script_share, 4)},
            "district": match.district.name if match.district else None,
            "district_source": match.source,
        }
        if args.json or args.text == "-":
            print(json.dumps(doc, ensure_ascii=False), flush=True)
        else:
            verdict = "no_evidence: goes to triage" if p.no_evidence else "enough"
            if reading.service:
                print(f"service:    {reading.service.name} ({reading.service.code}, {p.confidence:.2f})")
            print(f"category:   {reading.category or '-'}")
            print(f"agency:     {main.name + ' (' + main.id + ')' if main else '- (triage)'}")
            if handlers.co:
                print("co:         " + ", ".join(a.name for a in handlers.co))
            print(
                f"evidence:   {verdict} ({p.evidence.known_terms} known terms, "
                f"{p.evidence.script_share:.0%} in {', '.join(model.evidence_rule.scripts)})"
            )
            print(f"district:   {doc['district'] or '-'} ({match.source or 'none'})")
            print("top 3:      " + ", ".join(f"{city.read(c).title or c} {x:.2f}" for c, x in p.top3))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from complaints_tools.local.stack import serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # botocore tells at INFO where it found each client's endpoint and credentials: every few seconds, here.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    retry = os.environ.get("LOCAL_RETRY_SECONDS")
    parameters = dict(p.split("=", 1) for p in args.parameter)
    serve_forever(
        Path(args.root),
        args.port,
        retry_after=int(retry) if retry else None,
        parameters=parameters,
        state_dir=Path(args.state) if args.state else None,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from complaints_tools.demo import run_demo

    return run_demo(args.url)


def cmd_subscribe_agencies(args: argparse.Namespace) -> int:
    from complaints_tools.agencies import stack_topics, sync
    from complaints_tools.staff import StaffPool

    city = _city(args.city)
    dispatch, triage = stack_topics(args.stack)
    counts = sync(city, dispatch, triage, prune=args.prune)
    # The staff pool's groups follow the same file: one per agency, and admin.
    groups = StaffPool.of_stack(args.stack).sync_groups(city)
    print(json.dumps({**counts, "staff_groups": groups}))
    return 0


def cmd_staff(args: argparse.Namespace) -> int:
    from complaints_tools.staff import StaffError, StaffPool

    pool = StaffPool.of_stack(args.stack) if args.stack else StaffPool.of_local_stack(args.url)
    try:
        if args.staff_command == "add":
            print(json.dumps(pool.add(_city(args.city), args.agency, args.email, args.password)))
        else:
            print(pool.token(args.email, args.password))  # the ID token alone, for curl: -H "Authorization: …"
    except StaffError as e:
        print(f"complaints staff {args.staff_command}: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from complaints_tools import web

    print(json.dumps(web.publish(args.stack, ROOT)))
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    from complaints_tools import redrive

    pairs = redrive.redrive_pairs(ROOT / "template.yaml")
    names = list(pairs) if args.queue == "all" else [args.queue]
    unknown = set(names) - set(pairs)
    if unknown:
        print(f"no such queue {sorted(unknown)}; queues with a dead-letter queue: {sorted(pairs)}", file=sys.stderr)
        return 2
    sqs, physical = redrive.deployed_stack(args.stack) if args.stack else redrive.local_stack(args.url)
    moved = {}
    for name in names:
        source, dlq = pairs[name]
        moved[name] = redrive.redrive(sqs, physical[source], physical[dlq], args.max)
    print(json.dumps({"moved": moved}))
    return 0


def cmd_labels_export(args: argparse.Namespace) -> int:
    from datetime import date

    from complaints_tools import labels

    try:
        since = labels.since_of(date.fromisoformat(args.since), _city(args.city).calendar) if args.since else None
    except ValueError:
        print(f"complaints labels export: --since must be a date, YYYY-MM-DD, not {args.since!r}", file=sys.stderr)
        return 2
    tickets = labels.repository_of_stack(args.stack) if args.stack else labels.repository_of_local_stack(args.url)
    count = labels.export_file(tickets, Path(args.out), since)
    # `undecided`: labelled tickets the triage desk still holds; they are exported once assigned.
    print(json.dumps({"rows": count.rows, "undecided": count.undecided, "since": since, "out": args.out}))
    return 0


def cmd_vehicles(args: argparse.Namespace) -> int:
    from complaints_tools import vehicles

    try:
        where = (
            vehicles.of_stack(args.stack, args.phone_key_parameter)
            if args.stack
            else vehicles.of_local_stack(args.url, args.phone_key_parameter)
        )
        if args.vehicles_command == "import":
            outcome = vehicles.import_file(where, Path(args.file), args.skip_bad)
        else:
            outcome = vehicles.block(where, args.phone, args.plate, args.reason, args.unblock)
    except vehicles.VehiclesError as e:
        print(f"complaints vehicles {args.vehicles_command}: {e}", file=sys.stderr)
        return 2
    if args.vehicles_command == "import":
        for bad in outcome["bad_rows"]:
            print(f"{args.file}:{bad['line']}: {bad['problem']}", file=sys.stderr)
        if outcome["refused"]:
            print(f"{args.file}: nothing imported; fix the rows above or pass --skip-bad", file=sys.stderr)
    print(json.dumps(outcome, ensure_ascii=False))
    return 1 if outcome.get("refused") else 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    from complaints_tools.loadtest import report, run

    result = run(args.n, args.concurrency, args.faults, args.retry_share, args.url, args.settle)
    print(report(result), flush=True)
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1


def cmd_openapi(args: argparse.Namespace) -> int:
    from complaints_tools.openapi import DOC, generate

    text = generate()
    if args.write:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _data_columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-col", default="text", help="column with the message text (default: %(default)s)")
    p.add_argument("--label-col", default="label", help="column with the category (default: %(default)s)")
    p.add_argument("--title-col", help="column with the message title, put before the text (optional)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="complaints", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train the classifier (on the bootstrap corpus unless --data is given)")
    p.add_argument("--data", help="CSV or XLSX with a text and a label column (default: the bootstrap corpus)")
    p.add_argument("--out", default=str(DEFAULT_MODEL), help="model folder to write (default: %(default)s)")
    _data_columns(p)
    p.add_argument("--city", default=str(DEFAULT_CITY))
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument(
        "--per-category", type=int, default=BOOTSTRAP_PER_CATEGORY, help="bootstrap corpus size per category"
    )
    p.add_argument("--labels", help="the agencies' corrections (`complaints labels export`) to train on as well")
    p.add_argument("--holdout", type=float, default=0.2, help="newest share of --labels kept out for promote")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model that picks a corrected ticket's service")
    p.add_argument("--date", default=os.environ.get("MODEL_DATE"), help="date written in the model card")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("promote", help="compare a retrained model with the one in use on the newest corrections")
    p.add_argument("--candidate", required=True, help="the retrained model's folder")
    p.add_argument("--labels", required=True, help="the labels export the candidate was trained with (--labels)")
    p.add_argument("--current", default=str(DEFAULT_MODEL), help="the model in use (default: %(default)s)")
    p.add_argument("--holdout", type=float, default=0.2, help="newest share of the labels judged on (as in train)")
    p.add_argument("--city", default=str(DEFAULT_CITY))
    p.add_argument("--install", action="store_true", help="copy the candidate over --current when promoted")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("evaluate", help="accuracy, per-category figures and precision at coverage on labelled data")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model folder (default: the bundled model)")
    p.add_argument("--data", required=True, help="CSV or XLSX with a text and a label column")
    _data_columns(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--report", metavar="DIR", help="write confusion.png, coverage.png and index.html into DIR")
    p.add_argument("--city", default=str(DEFAULT_CITY), help="to judge a service model on categories or agencies")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("bootstrap-corpus", help="write the generated bootstrap training corpus as CSV")
    p.add_argument("--out", default=str(BOOTSTRAP_CSV))
    p.add_argument("--city", default=str(DEFAULT_CITY))
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument("--per-category", type=int, default=BOOTSTRAP_PER_CATEGORY)
    p.add_argument("--by", choices=("service", "category"), default="service", help="what each row is labelled with")
    p.set_defaults(func=cmd_bootstrap_corpus)

    p = sub.add_parser("classify", help="classify a text ('-' reads one text per line from stdin)")
    p.add_argument("text")
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--city", default=str(DEFAULT_CITY))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("run", help="run the whole pipeline locally (moto + the real handlers)")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    p.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter, as in sam deploy --parameter-overrides (e.g. AutoDispatchThreshold=0.8)",
    )
    p.add_argument(
        "--state",
        default=os.environ.get("LOCAL_STATE_DIR"),
        metavar="DIR",
        help="keep tables and buckets in DIR across restarts (default: $LOCAL_STATE_DIR; none: start empty)",
    )
    p.add_argument(
        "--root",
        default=str(ROOT),
        metavar="DIR",
        help="the folder whose template.yaml to run, its CodeUri folders relative to it (default: this repository)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="send sample complaints to a running local stack and show where they went")
    p.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("subscribe-agencies", help="subscribe the city's agencies to a deployed stack's topics")
    p.add_argument("--stack", required=True, help="CloudFormation stack name")
    p.add_argument("--city", default=str(DEFAULT_CITY))
    p.add_argument("--prune", action="store_true", help="also remove subscriptions the city file no longer lists")
    p.set_defaults(func=cmd_subscribe_agencies)

    p = sub.add_parser("staff", help="agency staff accounts in the stack's Cognito user pool")
    staff = p.add_subparsers(dest="staff_command", required=True)
    for name, help_text in (
        ("add", "add a staff member to an agency's group (--password sets a permanent one; else an invitation)"),
        ("token", "sign in and print only the ID token"),
    ):
        q = staff.add_parser(name, help=help_text)
        where = q.add_mutually_exclusive_group(required=True)
        where.add_argument("--url", help="a running local stack, e.g. http://127.0.0.1:3000")
        where.add_argument("--stack", help="a deployed CloudFormation stack's name")
        q.add_argument("--email", required=True)
        if name == "add":
            q.add_argument("--agency", required=True, help="an agency id of the city file, or admin")
            q.add_argument("--password")
            q.add_argument("--city", default=str(DEFAULT_CITY))
        else:
            q.add_argument("--password", required=True)
        q.set_defaults(func=cmd_staff)

    p = sub.add_parser("web", help="the pages: publish web/ and config.json to a deployed stack")
    web = p.add_subparsers(dest="web_command", required=True)
    q = web.add_parser("publish", help="upload web/ and config.json to WebBucket and invalidate the distribution")
    q.add_argument("--stack", required=True, help="a deployed CloudFormation stack's name")
    q.set_defaults(func=cmd_web)

    p = sub.add_parser("redrive", help="move dead-lettered messages back to their queue (after fixing the cause)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--stack", help="a deployed CloudFormation stack's name")
    where.add_argument(
        "--url",
        default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}",
        help="a running local stack (default: %(default)s); its /_local/health names the queues",
    )
    p.add_argument("--queue", default="all", help="classify, route, photo or all (default: %(default)s)")
    p.add_argument("--max", type=int, help="move at most this many messages per queue")
    p.set_defaults(func=cmd_redrive)

    p = sub.add_parser("labels", help="the routing labels (triage assignments, agency returns) for retraining")
    labels = p.add_subparsers(dest="labels_command", required=True)
    q = labels.add_parser("export", help="write one CSV row per labelled ticket whose final agency is known")
    where = q.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running local stack, e.g. http://127.0.0.1:3000")
    where.add_argument("--stack", metavar="NAME", help="a deployed CloudFormation stack's name")
    q.add_argument("--out", required=True, metavar="FILE", help="the CSV to write (for complaints train --data)")
    q.add_argument("--since", metavar="YYYY-MM-DD", help="only tickets labelled on or after this day (city time)")
    q.add_argument("--city", default=str(DEFAULT_CITY), help="the city file, for its time zone")
    q.set_defaults(func=cmd_labels_export)

    p = sub.add_parser("vehicles", help="car moving: the vehicle registry (CSV import) and the block list")
    vehicles = p.add_subparsers(dest="vehicles_command", required=True)
    for name, help_text in (
        ("import", "seal and write plate,phone rows into VehiclesTable (a file with a bad row is refused whole)"),
        ("block", "block (or --unblock) a requester by phone, or a plate, for car-moving requests"),
    ):
        q = vehicles.add_parser(name, help=help_text)
        where = q.add_mutually_exclusive_group(required=True)
        where.add_argument("--url", help="a running local stack, e.g. http://127.0.0.1:3000")
        where.add_argument("--stack", metavar="NAME", help="a deployed CloudFormation stack's name")
        q.add_argument(
            "--phone-key-parameter",
            metavar="NAME",
            help="the SSM SecureString of the phone-key secret (default: the stack's PhoneKeyParameter)",
        )
        if name == "import":
            q.add_argument("file", metavar="FILE.csv", help="UTF-8 CSV with the columns plate,phone")
            q.add_argument("--skip-bad", action="store_true", help="import the good rows of a file with bad ones")
        else:
            what = q.add_mutually_exclusive_group(required=True)
            what.add_argument("--phone", help="the requester's phone (a mainland mobile)")
            what.add_argument("--plate", help="a plate, e.g. 浙C12345")
            q.add_argument("--reason", help="why, kept with the block")
            q.add_argument("--unblock", action="store_true", help="lift the block instead")
        q.set_defaults(func=cmd_vehicles)

    p = sub.add_parser("loadtest", help="N submissions at concurrency C against a fresh local stack, with faults")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument(
        "--faults",
        default="",
        help="as LOCAL_FAULTS, e.g. sns_publish_fail=0.05,dynamodb_throttle=0.05,kill_classify=0.01",
    )
    p.add_argument("--retry-share", type=float, default=0.05, help="share of submissions the client sends twice")
    p.add_argument("--url", help="a running local stack instead of a fresh one (its faults as they are)")
    p.add_argument("--settle", type=float, default=900, help="seconds to wait for the pipeline to drain")
    p.set_defaults(func=cmd_loadtest)

    p = sub.add_parser("openapi", help="print the API's OpenAPI document (--write updates docs/openapi.json)")
    p.add_argument("--write", action="store_true")
    p.set_defaults(func=cmd_openapi)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
