import type { DomainError, FieldError } from './domain-error.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** RFC 9457 problem details, as every error of the API is written. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  /** card_declined: the acquirer's reason. */
  decline_code?: string;
}

export function problemTypeUri(code: string): string {
  return `urn:payments:problem:${code}`;
}

export function problemOf(error: DomainError): ProblemBody {
  const body: ProblemBody = {
    type: problemTypeUri(error.code),
    title: error.title,
    status: error.status,
    detail: error.message,
    code: error.code,
  };
  if (error.errors) body.errors = error.errors;
  if (error.declineCode !== undefined) body.decline_code = error.declineCode;
  return body;
}
