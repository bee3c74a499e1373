package io.tether.transport;

import io.tether.cluster.StreamServices;
import io.tether.cluster.routing.StreamRequest;
import io.tether.cluster.routing.StreamRouter.RouteException;
import io.tether.conversation.SessionCommand;
import io.tether.conversation.SessionEvents;
import io.tether.conversation.SessionIds;
import io.tether.security.AccessGate;
import io.tether.security.TokenService.Scope;
import io.tether.security.TokenService;
import io.tether.stream.ContentTypes;
import io.tether.stream.CreateSpec;
import io.tether.stream.Outcome;
import io.tether.stream.StreamSettings;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The session API at {@code /v1/sessions}: create a session (id plus tokens), mint tokens, read the
 * snapshot, send a message, stop the generation, decide on or answer tool calls. Each request is checked
 * by the {@link AccessGate} and sent, as a {@link SessionCommand}, to the owner of the session's stream,
 * wherever it runs. The session's events are read on the Durable Streams routes of its stream,
 * {@code /v1/stream/sessions/{id}} (catch-up, long-poll, SSE, WebSocket) with a session token.
 */
public final class SessionHandler {

  public static final String PREFIX = "/v1/sessions";
  /** Routing-context keys: the verified token of a session stream request, and the device it names. */
  static final String GRANT = "tether.grant";
  static final String DEVICE = "tether.device";
  static final String IDEMPOTENCY_KEY = "Idempotency-Key";
  private static final java.util.regex.Pattern IDEMPOTENCY_KEY_FORMAT = java.util.regex.Pattern.compile("[A-Za-z0-9._:-]{16,128}");
  private static final java.util.regex.Pattern DEVICE_ID = java.util.regex.Pattern.compile("[A-Za-z0-9._-]{1,64}");

  static boolean validDevice(String device) {
    return DEVICE_ID.matcher(device).matches();
  }

  private final StreamServices services;
  private final AccessGate gate;

  public SessionHandler(StreamServices services, AccessGate gate) {
    this.services = services;
    this.gate = gate;
  }

  public void mount(Router router) {
    router.post(PREFIX).handler(this::create);
    router.post(PREFIX + "/:id/tokens").handler(this::token);
    router.get(PREFIX + "/:id").handler(this::snapshot);
    router.post(PREFIX + "/:id/messages").handler(ctx -> write(ctx, body -> new JsonObject()
        .put("type", SessionCommand.MESSAGE).put("text", string(body, "text")).put("messageId", optional(body, "messageId")),
        body -> body.getString("messageId") != null));
    router.post(PREFIX + "/:id/stop").handler(ctx -> write(ctx, body -> new JsonObject().put("type", SessionCommand.STOP),
        body -> true));
    router.post(PREFIX + "/:id/tools/:callId/approve").handler(ctx -> write(ctx, body -> new JsonObject()
        .put("type", SessionCommand.APPROVE).put("callId", ctx.pathParam("callId")), body -> true));
    router.post(PREFIX + "/:id/tools/:callId/deny").handler(ctx -> write(ctx, body -> new JsonObject()
        .put("type", SessionCommand.DENY).put("callId", ctx.pathParam("callId")).put("reason", optional(body, "reason")),
        body -> true));
    router.post(PREFIX + "/:id/tools/:callId/result").handler(ctx -> write(ctx, body -> {
      if (!body.containsKey("result") && !body.containsKey("error")) {
        throw new ApiError.Refusal(400, "missing_result", "send {\"result\": ...} or {\"error\": \"...\"}");
      }
      return new JsonObject().put("type", SessionCommand.TOOL_RESULT).put("callId", ctx.pathParam("callId"))
          .put("result", body.getValue("result")).put("error", optional(body, "error"));
    }, body -> true));
    router.route(PREFIX + "/*").last().handler(ctx ->
        ApiError.of(404, "not_found", "no such session endpoint: " + ctx.request().method() + " " + ctx.request().path())
            .send(ctx.response()));
  }

  // ------------------------------------------------------------------------------------ create

  private void create(RoutingContext ctx) {
    if (!gate.hasApiKey(ctx.request())) {
      ApiError.of(401, "invalid_api_key", "creating a session needs Authorization: Bearer <TETHER_API_KEY>")
          .withHeader("WWW-Authenticate", "Bearer").send(ctx.response());
      return;
    }
    JsonObject body;
    try {
      body = json(ctx, true);
    } catch (ApiError.Refusal refusal) {
      refusal.error().send(ctx.response());
      return;
    }
    String device;
    try {
      device = device(body);
    } catch (ApiError.Refusal refusal) {
      refusal.error().send(ctx.response());
      return;
    }
    String key = ctx.request().getHeader(IDEMPOTENCY_KEY);
    if (key != null && !IDEMPOTENCY_KEY_FORMAT.matcher(key).matches()) {
      ApiError.of(400, "invalid_idempotency_key",
          "Idempotency-Key is 16-128 characters of A-Z a-z 0-9 . _ : - (use a random value, such as a UUID)")
          .send(ctx.response());
      return;
    }
    // With a key, the id is derived from it: a retry (after a lost answer or a 503) names the session the
    // first attempt created, and gets it back instead of leaving it behind.
    String id = key != null ? gate.ids().sessionIdFor(key) : SessionIds.newId();
    String stream = SessionIds.streamOf(id);
    byte[] created = SessionEvents.event(SessionEvents.SESSION_CREATED).put("sessionId", id).encode()
        .getBytes(StandardCharsets.UTF_8);
    CreateSpec spec = new CreateSpec(new StreamSettings(ContentTypes.JSON, -1, -1), List.of(created), false, null);
    services.router().request(stream, new StreamRequest.Create(spec)).onComplete(ar -> {
      if (ar.failed()) {
        Replies.failure(ar.cause()).send(ctx.response());
        return;
      }
      boolean replayed = key != null && ar.result().outcome() == Outcome.EXISTS;
      if (ar.result().outcome() != Outcome.CREATED && !replayed) {
        Replies.refusal(ar.result()).send(ctx.response());
        return;
      }
      TokenService tokens = gate.tokens();
      long ttl = tokens.defaultTtlSeconds();
      JsonObject answer = new JsonObject()
          .put("sessionId", id)
          .put("token", tokens.issue(id, Scope.WRITE, ttl, device))
          .put("readToken", tokens.issue(id, Scope.READ, ttl, device))
          .put("expiresAt", System.currentTimeMillis() / 1000 + ttl)
          .put("events", "/v1/stream/" + stream)
          .put("snapshot", PREFIX + "/" + id);
      if (replayed) {
        ctx.response().putHeader("Idempotent-Replayed", "true");
      }
      ctx.response().setStatusCode(replayed ? 200 : 201).putHeader("Content-Type", "application/json")
          .putHeader("Location", PREFIX + "/" + id).putHeader("Cache-Control", "no-store").end(answer.encode());
    });
  }

  /** A new token for a session: with the API key (the app's backend), or with a write token of the session. */
  private void token(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    if (!SessionIds.isValid(id)) {
      unknown(ctx);
      return;
    }
    JsonObject body;
    Scope scope;
    long ttl;
    try {
      body = json(ctx, true);
      String requested = body.getString("scope", "read");
      if (!requested.equals("read") && !requested.equals("write")) {
        throw new ApiError.Refusal(400, "invalid_scope", "scope is read or write");
      }
      scope = requested.equals("write") ? Scope.WRITE : Scope.READ;
      ttl = body.getLong("ttlSeconds", gate.tokens().defaultTtlSeconds());
      if (ttl < 1 || ttl > gate.tokens().defaultTtlSeconds()) {
        throw new ApiError.Refusal(400, "invalid_ttl", "ttlSeconds is between 1 and " + gate.tokens().defaultTtlSeconds());
      }
    } catch (ApiError.Refusal refusal) {
      refusal.error().send(ctx.response());
      return;
    } catch (ClassCastException e) {
      ApiError.of(400, "invalid_json", "scope is a string and ttlSeconds a number").send(ctx.response());
      return;
    }
    // A token minted with a session token never outlives it: otherwise a short-lived token could be
    // renewed forever by minting its own successors.
    Future<Long> notAfter = gate.apiKeyConfigured() && gate.hasApiKey(ctx.request())
        ? Future.succeededFuture(Long.MAX_VALUE)
        : gate.authorize(ctx.request(), id, Scope.WRITE).map(TokenService.SessionGrant::expiresAtSeconds);
    String device;
    try {
      device = device(body);
    } catch (ApiError.Refusal refusal) {
      refusal.error().send(ctx.response());
      return;
    }
    notAfter.compose(limit -> services.router().command(SessionIds.streamOf(id),
        new StreamRequest.Command(new JsonObject().put("type", SessionCommand.RESUME).encode(), true))
            .map(answer -> limit)).onComplete(ar -> {
          if (ar.failed()) {
            fail(ctx, ar.cause());
            return;
          }
          long seconds = gate.tokens().lifetime(ttl, ar.result());
          ctx.response().setStatusCode(201).putHeader("Content-Type", "application/json").putHeader("Cache-Control", "no-store")
              .end(new JsonObject().put("token", gate.tokens().issue(id, scope, seconds, device, ar.result()))
                  .put("scope", scope.claim()).put("expiresAt", System.currentTimeMillis() / 1000 + seconds).encode());
        });
  }

  // ------------------------------------------------------------------------------------ commands

  private void snapshot(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    if (!SessionIds.isValid(id)) {
      unknown(ctx);
      return;
    }
    gate.authorize(ctx.request(), id, Scope.READ)
        .compose(grant -> send(id, new JsonObject().put("type", SessionCommand.SNAPSHOT), true))
        .onComplete(ar -> answer(ctx, ar));
  }

  private void write(RoutingContext ctx, java.util.function.Function<JsonObject, JsonObject> command,
                     java.util.function.Predicate<JsonObject> retriable) {
    String id = ctx.pathParam("id");
    if (!SessionIds.isValid(id)) {
      unknown(ctx);
      return;
    }
    JsonObject body;
    JsonObject cmd;
    try {
      body = json(ctx, true);
      cmd = command.apply(body);
    } catch (ApiError.Refusal refusal) {
      refusal.error().send(ctx.response());
      return;
    }
    gate.authorize(ctx.request(), id, Scope.WRITE)
        .compose(grant -> send(id, cmd.put("device", grant.device() != null ? grant.device() : optional(body, "device")),
            retriable.test(body)))
        .onComplete(ar -> answer(ctx, ar));
  }

  private Future<SessionCommand.Result> send(String id, JsonObject command, boolean retriable) {
    return services.router().command(SessionIds.streamOf(id), new StreamRequest.Command(command.encode(), retriable))
        .map(SessionCommand.Result::parse);
  }

  private void answer(RoutingContext ctx, io.vertx.core.AsyncResult<SessionCommand.Result> ar) {
    if (ar.failed()) {
      fail(ctx, ar.cause());
      return;
    }
    SessionCommand.Result result = ar.result();
    if (result.status() == 503) {
      ctx.response().putHeader("Retry-After", "1");
    }
    ctx.response().setStatusCode(result.status()).putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store").end(result.body().encode());
  }

  private void fail(RoutingContext ctx, Throwable cause) {
    if (cause instanceof RouteException route && route.kind() == RouteException.Kind.NOT_FOUND) {
      unknown(ctx);
    } else if (cause instanceof AccessGate.Denied) {
      denied(cause).send(ctx.response());
    } else {
      Replies.failure(cause).send(ctx.response());
    }
  }

  private static void unknown(RoutingContext ctx) {
    ApiError.of(404, "session_not_found", "no such session").send(ctx.response());
  }

  /** The error body of a refused credential. */
  static ApiError denied(Throwable cause) {
    if (cause instanceof AccessGate.Denied d) {
      ApiError error = ApiError.of(d.status(), d.code(), d.getMessage());
      return d.status() == 401 ? error.withHeader("WWW-Authenticate", "Bearer") : error;
    }
    return ApiError.of(500, "internal_error", String.valueOf(cause.getMessage()));
  }

  // ------------------------------------------------------------------------------------ bodies

  private static JsonObject json(RoutingContext ctx, boolean emptyAllowed) {
    Buffer body = RequestBody.of(ctx);
    if (body.length() == 0) {
      if (emptyAllowed) {
        return new JsonObject();
      }
      throw new ApiError.Refusal(400, "invalid_json", "the body must be a JSON object");
    }
    try {
      Object value = io.vertx.core.json.Json.decodeValue(body);
      if (value instanceof JsonObject o) {
        return o;
      }
    } catch (DecodeException e) {
      // fall through
    }
    throw new ApiError.Refusal(400, "invalid_json", "the body must be a JSON object");
  }

  private static String device(JsonObject body) {
    String device = optional(body, "device");
    if (device != null && !validDevice(device)) {
      throw new ApiError.Refusal(400, "invalid_device", "device ids are 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    return device;
  }

  private static String string(JsonObject body, String key) {
    Object value = body.getValue(key);
    if (!(value instanceof String text) || text.isBlank()) {
      throw new ApiError.Refusal(400, "invalid_" + key, key + " must be a non-empty string");
    }
    return text;
  }

  private static String optional(JsonObject body, String key) {
    Object value = body.getValue(key);
    if (value == null) {
      return null;
    }
    if (!(value instanceof String text)) {
      throw new ApiError.Refusal(400, "invalid_" + key, key + " must be a string");
    }
    return text;
  }
}
