/** One field at fault: `field` is the path the server names (`lines[0].quantity`, `filter[nmae]`). */
export type FieldError = { field: string; message: string };

/** An RFC 9457 problem (`application/problem+json`), as every API error is sent. */
export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: FieldError[];
};

/**
 * What a failed request throws: the problem the server sent, with its HTTP status.
 * 400 bad query parameter, 401 no or bad credentials, 403 refused by a rule (`detail` says
 * why), 404 missing or unreadable, 409 a transition or guard or unique conflict, 412 a stale
 * `If-Match`, 422 an invalid body (`errors` names the fields), 429 too many sign-in attempts.
 */
export class ProblemError extends Error implements Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors: FieldError[];

  constructor(problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.name = "ProblemError";
    this.type = problem.type;
    this.title = problem.title;
    this.status = problem.status;
    this.detail = problem.detail;
    this.errors = problem.errors;
  }

  /** The messages of each field at fault, by field path, for a form to show. */
  fieldErrors(): Record<string, string[]> {
    const found: Record<string, string[]> = {};
    for (const { field, message } of this.errors) {
      (found[field] ??= []).push(message);
    }
    return found;
  }
}

/** Whether `error` is a problem, optionally of one status: `isProblem(e, 412)`. */
export function isProblem(error: unknown, status?: number): error is ProblemError {
  return error instanceof ProblemError && (status === undefined || error.status === status);
}

/** The problem of a failed response; a body that is not one becomes one (a proxy's 502). */
export async function problemOf(response: Response): Promise<ProblemError> {
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const given = typeof body === "object" && body !== null ? (body as Partial<Problem>) : {};
  return new ProblemError({
    type: typeof given.type === "string" ? given.type : "about:blank",
    title: typeof given.title === "string" ? given.title : response.statusText || "Error",
    status: typeof given.status === "number" ? given.status : response.status,
    detail: typeof given.detail === "string" ? given.detail : text.slice(0, 500),
    errors: Array.isArray(given.errors) ? given.errors : [],
  });
}
