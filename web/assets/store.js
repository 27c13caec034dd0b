// The citizen's tickets on this device: no account, just what POST /complaints answered. The receipt is the only
// key to a ticket, so it stays in this browser's localStorage and is sent in the X-Receipt header, never in a URL.

const KEY = "complaint-desk.tickets";

export function myTickets() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || "[]");
    return Array.isArray(list) ? list.filter((t) => t && t.id && t.receipt) : [];
  } catch {
    return [];
  }
}

/** Keeps a new ticket, with the start of its text: the citizen's own words, which GET /complaints/{id} omits. */
export function keepTicket({ id, ticket_no, receipt, text }) {
  const list = myTickets().filter((t) => t.id !== id);
  list.unshift({ id, ticket_no, receipt, text, saved_at: new Date().toISOString() });
  localStorage.setItem(KEY, JSON.stringify(list));
}

export function forgetTicket(id) {
  localStorage.setItem(KEY, JSON.stringify(myTickets().filter((t) => t.id !== id)));
}
