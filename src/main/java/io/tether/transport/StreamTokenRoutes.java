package io.tether.transport;

import io.tether.conversation.SessionIds;
import io.tether.security.AccessGate;
import io.tether.security.TokenService.Scope;
import io.tether.security.Credentials;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code POST /v1/tokens}: a token for one plain stream, for clients that may not hold the API key
 * (with {@code TETHER_STREAM_AUTH=writes} or {@code all}). The app's backend asks with the API key; a
 * holder of a write token of the stream may ask for another token of the same stream, which never
 * outlives its own. Session streams have their own tokens ({@code /v1/sessions/{id}/tokens}).
 */
final class StreamTokenRoutes {

  static final String PATH = "/v1/tokens";

  private final AccessGate gate;

  StreamTokenRoutes(AccessGate gate) {
    this.gate = gate;
  }

  void mount(Router router) {
    router.post(PATH).handler(this::mint);
  }

  private void mint(RoutingContext ctx) {
    String stream;
    Scope scope;
    long ttl;
    try {
      JsonObject body = body(ctx);
      Object name = body.getValue("stream");
      if (!(name instanceof String text)) {
        throw new ApiError.Refusal(400, "invalid_stream_name", "stream must be a stream name");
      }
      stream = StreamNames.validate(text);
      if (SessionIds.isSessionStream(stream)) {
        throw new ApiError.Refusal(400, "invalid_stream_name",
            "session streams take session tokens: POST /v1/sessions/{id}/tokens");
      }
      Object requested = body.getValue("scope", "read");
      if (!"read".equals(requested) && !"write".equals(requested)) {
        throw new ApiError.Refusal(400, "invalid_scope", "scope is read or write");
      }
      scope = "write".equals(requested) ? Scope.WRITE : Scope.READ;
      Object seconds = body.getValue("ttlSeconds", gate.tokens().defaultTtlSeconds());
      if (!(seconds instanceof Number n) || n.longValue() < 1 || n.longValue() > gate.tokens().defaultTtlSeconds()
          || n.doubleValue() != n.longValue()) {
        throw new ApiError.Refusal(400, "invalid_ttl", "ttlSeconds is a whole number between 1 and "
            + gate.tokens().defaultTtlSeconds());
      }
      ttl = ((Number) seconds).longValue();
    } catch (ApiError.Refusal refusal) {
      refusal.error().send(ctx.response());
      return;
    }
    Future<Long> notAfter;
    if (gate.hasApiKey(ctx.request())) {
      notAfter = Future.succeededFuture(Long.MAX_VALUE);
    } else {
      notAfter = gate.tokens().verifyStream(Credentials.bearer(ctx.request()))
          .recover(e -> Future.failedFuture(new AccessGate.Denied(401, "invalid_api_key",
              "minting a stream token needs the API key or a write token of that stream")))
          .compose(grant -> grant.stream().equals(stream) && grant.scope().allows(Scope.WRITE)
              ? Future.succeededFuture(grant.expiresAtSeconds())
              : Future.failedFuture(new AccessGate.Denied(403, grant.stream().equals(stream) ? "read_only_token"
                  : "wrong_stream", "a stream token mints tokens only for its own stream, and only with write scope")));
    }
    notAfter.onComplete(ar -> {
      if (ar.failed()) {
        SessionHandler.denied(ar.cause()).send(ctx.response());
        return;
      }
      long lifetime = gate.tokens().lifetime(ttl, ar.result());
      JsonObject answer = new JsonObject()
          .put("token", gate.tokens().issueForStream(stream, scope, lifetime, ar.result()))
          .put("stream", stream)
          .put("scope", scope.claim())
          .put("expiresAt", System.currentTimeMillis() / 1000 + lifetime);
      ctx.response().setStatusCode(201).putHeader("Content-Type", "application/json")
          .putHeader("Cache-Control", "no-store").end(answer.encode());
    });
  }

  private static JsonObject body(RoutingContext ctx) {
    try {
      Object value = Json.decodeValue(RequestBody.of(ctx));
      if (value instanceof JsonObject o) {
        return o;
      }
    } catch (DecodeException e) {
      // fall through
    }
    throw new ApiError.Refusal(400, "invalid_json", "the body must be a JSON object");
  }
}
