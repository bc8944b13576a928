/** An error answered in OpenAI's JSON shape: `{"error": {"message", "type", "param", "code"}}`. */
export class OpenAIError extends Error {
  constructor(
    /** HTTP status code of the response. */
    readonly status: number,
    message: string,
    /** OpenAI error type. */
    readonly type:
      | 'invalid_request_error'
      | 'authentication_error'
      | 'not_found_error'
      | 'server_error'
      | 'rate_limit_error' = 'invalid_request_error',
    /** The request parameter at fault, if any. */
    readonly param: string | null = null,
    /** Machine-readable error code, if any. */
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'OpenAIError';
  }

  /** The response body. */
  body(): {
    /** The error object. */
    error: {
      /** Human-readable description. */
      message: string;
      /** OpenAI error type. */
      type: string;
      /** The request parameter at fault, or null. */
      param: string | null;
      /** Machine-readable error code, or null. */
      code: string | null;
    };
  } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
