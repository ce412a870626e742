/**
 * Approval tickets as `approvals.list` sends them, and how one is shown in the Approvals
 * view. Only the ticket's redacted arguments ever reach the editor (docs/approvals.md), so
 * the tooltip can show them as they are. Pure: no vscode import.
 */
import { argumentsLine } from "./auditRecords";

export interface Ticket {
  id: string;
  command: string;
  arguments: Record<string, unknown>;
  requester: string;
  requester_source: string;
  risk: string;
  created_at: string;
  expires_at: string;
  separate_approver: boolean;
  state: string;
}

/** The context value the inline Approve / Decline buttons are shown for (package.json). */
export const PENDING_CONTEXT = "pendingTicket";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

export function parseTicket(value: unknown): Ticket | undefined {
  if (!isObject(value) || typeof value.id !== "string" || typeof value.command !== "string") {
    return undefined;
  }
  return {
    id: value.id,
    command: value.command,
    arguments: isObject(value.arguments) ? value.arguments : {},
    requester: str(value.requester),
    requester_source: str(value.requester_source),
    risk: str(value.risk),
    created_at: str(value.created_at),
    expires_at: str(value.expires_at),
    separate_approver: value.separate_approver === true,
    state: str(value.state),
  };
}

/** The pending tickets of an `approvals.list` result's `data`, oldest first as listed. */
export function pendingTickets(data: unknown): Ticket[] {
  if (!Array.isArray(data)) {
    return [];
  }
  return data
    .map(parseTicket)
    .filter((ticket): ticket is Ticket => ticket !== undefined && ticket.state === "pending");
}

export interface TicketFields {
  label: string;
  description: string;
  tooltip: string;
  contextValue: string;
  icon: string;
}

export function ticketFields(ticket: Ticket): TicketFields {
  const from =
    ticket.requester_source === ""
      ? ticket.requester
      : `${ticket.requester} (${ticket.requester_source})`;
  const args = argumentsLine(ticket.arguments);
  const lines = [
    `${ticket.command} (${ticket.risk} risk), asked by ${from}`,
    args === "" ? "no arguments" : `arguments: ${args}`,
    `expires ${ticket.expires_at}`,
    `ticket ${ticket.id}`,
  ];
  if (ticket.separate_approver) {
    lines.push(`needs an approver other than ${ticket.requester} (the two-person rule)`);
  }
  return {
    label: ticket.command,
    description: `${ticket.requester} · ${ticket.risk}`,
    tooltip: lines.join("\n"),
    contextValue: ticket.state === "pending" ? PENDING_CONTEXT : "ticket",
    icon: ticket.risk === "danger" ? "warning" : "question",
  };
}
