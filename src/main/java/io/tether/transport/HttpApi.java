package io.tether.transport;

import io.tether.cluster.StreamServices;
import io.tether.config.TetherConfig;
import io.tether.conversation.PresenceReporter;
import io.tether.ops.OpsRoutes;
import io.tether.security.AccessGate;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.CorsHandler;
import io.vertx.ext.web.handler.StaticHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * The HTTP server of a node (one instance per event loop, sharing the port): the Durable Streams
 * protocol and its live transports at {@code /v1/stream/*}, the session API at {@code /v1/sessions},
 * and the operations endpoints.
 */
public final class HttpApi extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(HttpApi.class);

  private static final Set<String> ALLOWED_HEADERS = Set.of("Content-Type", "Authorization", "If-None-Match",
      "Idempotency-Key",
      ProtocolHeaders.SEQ, ProtocolHeaders.TTL, ProtocolHeaders.EXPIRES_AT, ProtocolHeaders.CLOSED,
      ProtocolHeaders.FORKED_FROM, ProtocolHeaders.FORK_OFFSET, ProtocolHeaders.FORK_SUB_OFFSET,
      ProtocolHeaders.PRODUCER_ID, ProtocolHeaders.PRODUCER_EPOCH, ProtocolHeaders.PRODUCER_SEQ);
  private static final Set<String> EXPOSED_HEADERS = Set.of("ETag", "Location", "Retry-After",
      ProtocolHeaders.NEXT_OFFSET, ProtocolHeaders.UP_TO_DATE, ProtocolHeaders.CLOSED, ProtocolHeaders.CURSOR,
      ProtocolHeaders.TTL, ProtocolHeaders.EXPIRES_AT, ProtocolHeaders.SSE_ENCODING, ProtocolHeaders.PRODUCER_EPOCH,
      ProtocolHeaders.PRODUCER_SEQ, ProtocolHeaders.PRODUCER_EXPECTED_SEQ, ProtocolHeaders.PRODUCER_RECEIVED_SEQ,
      Replies.EARLIEST_OFFSET);

  /** How long a stopping node waits for its HTTP connections to finish their current response. */
  public static final java.time.Duration SHUTDOWN_GRACE = java.time.Duration.ofSeconds(5);

  /** No script, no subresource, no framing, a unique origin: a response is inert if a browser renders it. */
  static final String API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

  private final StreamServices services;
  private final AccessGate gate;
  private final BooleanSupplier serving;
  private HttpServer server;

  private final PresenceReporter presence;
  private final ClientLimits limits;
  private final Drain drain;

  public HttpApi(StreamServices services, AccessGate gate, PresenceReporter presence, ClientLimits limits,
                 BooleanSupplier serving, Drain drain) {
    this.drain = drain;
    this.services = services;
    this.gate = gate;
    this.presence = presence;
    this.limits = limits;
    this.serving = serving;
  }

  @Override
  public Future<?> start() {
    TetherConfig config = services.config();
    ConnectionGuard guard = new ConnectionGuard(vertx, limits, services.metrics(), config.headerTimeoutMillis(),
        config.idleTimeoutSeconds() * 1000L);
    Router router = Router.router(vertx);
    router.route().handler(ctx -> {
      if (!guard.requestStarted(ctx)) {
        return;
      }
      HttpServerResponse response = ctx.response();
      response.putHeader("X-Content-Type-Options", "nosniff");
      response.putHeader("Cross-Origin-Resource-Policy", "cross-origin");
      // Stream content is whatever its writers sent, in whatever content type they declared: a
      // text/html or image/svg+xml stream opened in a browser must not run as a page of this origin.
      // The demo's routes replace this policy with their own.
      response.putHeader("Content-Security-Policy", API_CSP);
      ctx.next();
    });
    router.route().handler(drain.handler());
    router.route().handler(cors());
    router.route().handler(RequestBody.handler(vertx, config.maxAppendBytes(), limits, config.bodyTimeoutMillis(),
        services.metrics()));
    // The protocol's routes first: they carry nearly every request, and the router tries routes in order
    // (the session routes' path patterns are regular expressions). No other route starts with this prefix.
    StreamHandler streams = new StreamHandler(services, new LiveTransports(services, presence), gate);
    router.route(ProtocolHeaders.STREAM_PREFIX + "*").handler(streams::handle);
    new OpsRoutes(services, serving).mount(router);
    new SessionHandler(services, gate).mount(router);
    new StreamTokenRoutes(gate).mount(router);
    // The demo chat and the browser client, from the jar.
    StaticHandler demo = StaticHandler.create("webroot").setIndexPage("index.html").setCachingEnabled(false);
    router.get().handler(ctx -> {
      ctx.response().putHeader("Content-Security-Policy",
          "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:");
      ctx.next();
    }).handler(demo);
    router.head().handler(demo);
    router.route().last().handler(ctx ->
        ApiError.of(404, "not_found", "no such endpoint: " + ctx.request().path()).send(ctx.response()));
    router.errorHandler(500, ctx -> {
      log.error("unhandled error on {} {}", ctx.request().method(), ctx.request().path(), ctx.failure());
      ApiError.of(500, "internal_error", "internal error").send(ctx.response());
    });

    HttpServerOptions options = new HttpServerOptions()
        .setHost(services.config().httpHost())
        .setPort(services.identity().httpPort())
        .setTcpNoDelay(true)
        .setCompressionSupported(false)
        // WebSockets are Tether's own (ChannelWebSocket, on Netty's codec), without extensions: no
        // permessage-deflate handshaker in every connection's pipeline, no zlib state per socket.
        .setPerMessageWebSocketCompressionSupported(false)
        .setPerFrameWebSocketCompressionSupported(false)
        // HTTP/1.1 only: with h2c detection on, Vert.x creates a connection (and calls the guard) only
        // once bytes arrive, and a socket that never sends any would be held forever.
        .setHttp2ClearTextEnabled(false)
        // Every response is written on its connection's event loop (callbacks from the cluster hop
        // back to the caller's context first), so Vert.x can write straight to the channel instead of
        // through a cross-thread queue: 4.7 KiB less per open connection, and one hand-off less per write.
        .setStrictThreadMode(true);
    server = vertx.createHttpServer(options).connectionHandler(guard::opened).requestHandler(router);
    return server.listen();
  }

  /**
   * Stops listening, then closes each connection once its current response has been sent (Vert.x's
   * graceful server shutdown), forcing the rest after {@link #SHUTDOWN_GRACE}.
   */
  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture()
        : server.shutdown(SHUTDOWN_GRACE.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private CorsHandler cors() {
    CorsHandler cors = CorsHandler.create();
    String origins = services.config().corsOrigins();
    if (origins.equals("*")) {
      cors.addOrigin("*");
    } else {
      cors.addOrigins(Arrays.stream(origins.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList());
    }
    return cors.allowedMethods(Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.PUT, HttpMethod.POST,
            HttpMethod.DELETE, HttpMethod.OPTIONS))
        .allowedHeaders(ALLOWED_HEADERS)
        .exposedHeaders(EXPOSED_HEADERS)
        .maxAgeSeconds(600);
  }
}
