package io.tether.security;

import io.tether.security.TokenService.Scope;
import io.tether.security.TokenService.SessionGrant;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerRequest;

/**
 * Who may do what on a session. Every session route and every Durable Streams route on a session
 * stream asks here first; refusals carry the status and error code listed in {@code docs/errors.md}.
 */
public final class SessionGate {

  private final TokenService tokens;
  private final String apiKey;

  public SessionGate(TokenService tokens, String apiKey) {
    this.tokens = tokens;
    this.apiKey = apiKey;
  }

  public TokenService tokens() {
    return tokens;
  }

  /** Whether the request carries the backend API key (always true when none is configured). */
  public boolean hasApiKey(HttpServerRequest request) {
    if (apiKey.isEmpty()) {
      return true;
    }
    String presented = Credentials.bearer(request);
    return presented != null && Credentials.constantTimeEquals(presented, apiKey);
  }

  public boolean apiKeyConfigured() {
    return !apiKey.isEmpty();
  }

  /**
   * Checks the request's token against {@code sessionId} and {@code needed}; fails with a {@link Denied}.
   */
  public Future<SessionGrant> authorize(HttpServerRequest request, String sessionId, Scope needed) {
    String token = Credentials.bearer(request);
    if (token == null) {
      return Future.failedFuture(new Denied(401, "missing_token",
          "this session needs a token: Authorization: Bearer <token> or ?token=<token>"));
    }
    return tokens.verify(token).recover(e -> Future.failedFuture(new Denied(401, "invalid_token", e.getMessage())))
        .compose(grant -> {
          if (!grant.sessionId().equals(sessionId)) {
            return Future.failedFuture(new Denied(403, "wrong_session", "the token is for another session"));
          }
          if (!grant.scope().allows(needed)) {
            return Future.failedFuture(new Denied(403, "read_only_token", "the token only allows reading this session"));
          }
          return Future.succeededFuture(grant);
        });
  }

  /** A refused request. */
  public static final class Denied extends RuntimeException {
    private final int status;
    private final String code;

    public Denied(int status, String code, String message) {
      super(message, null, false, false);
      this.status = status;
      this.code = code;
    }

    public int status() {
      return status;
    }

    public String code() {
      return code;
    }
  }
}
