package io.tether.security;

import io.tether.config.StreamAuth;
import io.tether.security.TokenService.Scope;
import io.tether.security.TokenService.SessionGrant;
import io.tether.security.TokenService.StreamGrant;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerRequest;

/**
 * Who may do what. Every session route, every Durable Streams route on a session stream and, as
 * {@code TETHER_STREAM_AUTH} says, every route on a plain stream asks here first; refusals carry the
 * status and error code listed in {@code docs/errors.md}.
 */
public final class AccessGate {

  private final TokenService tokens;
  private final String apiKey;
  private final StreamAuth streamAuth;
  private final KeyedIds ids;

  public AccessGate(TokenService tokens, String apiKey, StreamAuth streamAuth, KeyedIds ids) {
    this.tokens = tokens;
    this.apiKey = apiKey;
    this.streamAuth = streamAuth;
    this.ids = ids;
  }

  /** Session ids derived from idempotency keys. */
  public KeyedIds ids() {
    return ids;
  }

  public TokenService tokens() {
    return tokens;
  }

  public StreamAuth streamAuth() {
    return streamAuth;
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

  /** Whether {@code TETHER_STREAM_AUTH} asks for a credential to use a plain stream this way. */
  public boolean streamNeedsCredential(Scope needed) {
    return needed == Scope.WRITE ? streamAuth.protectsWrites() : streamAuth.protectsReads();
  }

  /**
   * What the request may do on the plain stream {@code stream}: the API key allows everything; a stream
   * token allows its scope on its stream. Fails with a {@link Denied} when the request carries neither
   * or its token is for another stream or only reads. With {@code TETHER_STREAM_AUTH=open} no credential
   * is needed and everything is granted.
   */
  public Future<StreamGrant> authorizeStream(HttpServerRequest request, String stream, Scope needed) {
    if (!streamNeedsCredential(needed)) {
      return Future.succeededFuture(new StreamGrant(stream, Scope.WRITE, Long.MAX_VALUE));
    }
    String token = Credentials.bearer(request);
    if (token == null) {
      return Future.failedFuture(new Denied(401, "missing_token", (needed == Scope.WRITE ? "writing" : "reading")
          + " this stream needs the API key or a stream token: Authorization: Bearer <token> or ?token=<token>"));
    }
    if (apiKeyConfigured() && Credentials.constantTimeEquals(token, apiKey)) {
      return Future.succeededFuture(new StreamGrant(stream, Scope.WRITE, Long.MAX_VALUE));
    }
    return tokens.verifyStream(token).recover(e -> Future.failedFuture(new Denied(401, "invalid_token", e.getMessage())))
        .compose(grant -> {
          if (!grant.stream().equals(stream)) {
            return Future.failedFuture(new Denied(403, "wrong_stream", "the token is for another stream"));
          }
          if (!grant.scope().allows(needed)) {
            return Future.failedFuture(new Denied(403, "read_only_token", "the token only allows reading this stream"));
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
