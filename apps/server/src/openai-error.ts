/** An error answered in OpenAI's JSON shape: `{"error": {"message", "type", "param", "code"}}`. */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type:
      | 'invalid_request_error'
      | 'authentication_error'
      | 'not_found_error'
      | 'server_error'
      | 'rate_limit_error' = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'OpenAIError';
  }

  /** The response body. */
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
