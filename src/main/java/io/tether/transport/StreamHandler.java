package io.tether.transport;

import io.tether.cluster.StreamServices;
import io.tether.cluster.routing.StreamRequest;
import io.tether.config.TetherConfig;
import io.tether.conversation.SessionIds;
import io.tether.security.AccessGate;
import io.tether.security.TokenService.Scope;
import io.tether.security.TokenService.StreamGrant;
import io.tether.stream.AppendSpec;
import io.tether.stream.ContentTypes;
import io.tether.stream.CreateSpec;
import io.tether.stream.ForkSpec;
import io.tether.stream.JsonBatch;
import io.tether.stream.Outcome;
import io.tether.stream.ProducerHeaders;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.tether.stream.StreamSettings;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

import java.util.List;

import static io.tether.transport.ProtocolHeaders.CLOSED;
import static io.tether.transport.ProtocolHeaders.PRODUCER_EPOCH;
import static io.tether.transport.ProtocolHeaders.PRODUCER_SEQ;
import static io.tether.transport.ProtocolHeaders.SEQ;
import static io.tether.transport.ProtocolHeaders.UP_TO_DATE;

/**
 * The Durable Streams protocol at {@code /v1/stream/{name}}: PUT creates, POST appends or closes, GET
 * reads (catch-up here; {@code live=long-poll}, {@code live=sse} and {@code live=ws} are handed to
 * their transports), HEAD describes, DELETE deletes. Every operation is sent to the stream's owner
 * through the {@link io.tether.cluster.routing.StreamRouter}; this class only parses, validates and formats.
 */
public final class StreamHandler {

  /**
   * Routing-context keys: when the credential of the request expires (epoch seconds; live connections
   * end then), and until when appends on a WebSocket are allowed (0: never).
   */
  static final String EXPIRES_AT = "tether.expiresAt";
  static final String WRITE_UNTIL = "tether.writeUntil";

  private final StreamServices services;
  private final TetherConfig config;
  private final LiveTransports live;
  private final AccessGate gate;

  public StreamHandler(StreamServices services, LiveTransports live, AccessGate gate) {
    this.services = services;
    this.config = services.config();
    this.live = live;
    this.gate = gate;
  }

  public void handle(RoutingContext ctx) {
    HttpServerRequest request = ctx.request();
    try {
      String name = ProtocolHeaders.streamName(request.path());
      HttpMethod method = request.method();
      String forkedFrom = request.getHeader(ProtocolHeaders.FORKED_FROM);
      // The check runs on the canonical source name (any spelling of it: bare, path, URL, encoded);
      // the session's owner refuses to hand its data to a fork as well.
      if (method == HttpMethod.PUT && forkedFrom != null
          && SessionIds.isSessionStream(StreamNames.fromReference(forkedFrom))) {
        throw new ApiError.Refusal(403, "session_stream_read_only", "session streams cannot be forked");
      }
      if (SessionIds.isSessionStream(name)) {
        sessionStream(ctx, name, method);
        return;
      }
      Scope needed = method == HttpMethod.GET || method == HttpMethod.HEAD ? Scope.READ : Scope.WRITE;
      gate.authorizeStream(request, name, needed).onComplete(ar -> {
        if (ar.failed()) {
          SessionHandler.denied(ar.cause()).send(ctx.response());
          return;
        }
        try {
          StreamGrant grant = ar.result();
          if (method == HttpMethod.PUT && forkedFrom != null && gate.streamAuth().protectsReads() && grant.expires()) {
            // A fork reads its source too, and a stream token names one stream.
            throw new ApiError.Refusal(403, "fork_needs_api_key",
                "with TETHER_STREAM_AUTH=all, forking reads another stream and needs the API key");
          }
          ctx.put(EXPIRES_AT, grant.expiresAtSeconds());
          if (method == HttpMethod.GET && "ws".equals(ProtocolHeaders.live(request.params()))) {
            // Appends on the socket need what a POST needs; the socket itself only what a read needs.
            gate.authorizeStream(request, name, Scope.WRITE).onComplete(write -> {
              ctx.put(WRITE_UNTIL, write.succeeded() ? write.result().expiresAtSeconds() : 0L);
              try {
                dispatch(ctx, name, method);
              } catch (ApiError.Refusal refusal) {
                refusal.error().send(ctx.response());
              }
            });
            return;
          }
          dispatch(ctx, name, method);
        } catch (ApiError.Refusal refusal) {
          refusal.error().send(ctx.response());
        }
      });
    } catch (ApiError.Refusal refusal) {
      refusal.error().send(ctx.response());
    }
  }

  /** A session's events: readable with a token of that session, written only through the session API. */
  private void sessionStream(RoutingContext ctx, String name, HttpMethod method) {
    HttpServerRequest request = ctx.request();
    if (method != HttpMethod.GET && method != HttpMethod.HEAD) {
      throw new ApiError.Refusal(403, "session_stream_read_only",
          "session streams are written through the session API (/v1/sessions/{id}/...)");
    }
    gate.authorize(request, SessionIds.sessionOf(name), Scope.READ).onComplete(ar -> {
      if (ar.failed()) {
        SessionHandler.denied(ar.cause()).send(ctx.response());
        return;
      }
      try {
        ctx.put(SessionHandler.GRANT, ar.result());
        ctx.put(EXPIRES_AT, ar.result().expiresAtSeconds());
        // Appends on a session's socket reach its owner, which refuses them: the session's only writer is
        // its companion.
        ctx.put(WRITE_UNTIL, Long.MAX_VALUE);
        String device = ar.result().device() != null ? ar.result().device() : request.getParam("device");
        if (device != null && !SessionHandler.validDevice(device)) {
          throw new ApiError.Refusal(400, "invalid_device", "device ids are 1-64 characters of A-Z a-z 0-9 . _ -");
        }
        ctx.put(SessionHandler.DEVICE, device);
        dispatch(ctx, name, method);
      } catch (ApiError.Refusal refusal) {
        refusal.error().send(ctx.response());
      }
    });
  }

  private void dispatch(RoutingContext ctx, String name, HttpMethod method) {
    {
      if (method == HttpMethod.PUT) {
        create(ctx, name);
      } else if (method == HttpMethod.POST) {
        append(ctx, name);
      } else if (method == HttpMethod.GET) {
        get(ctx, name);
      } else if (method == HttpMethod.HEAD) {
        head(ctx, name);
      } else if (method == HttpMethod.DELETE) {
        delete(ctx, name);
      } else {
        throw new ApiError.Refusal(ApiError.of(405, "method_not_allowed", "use PUT, POST, GET, HEAD or DELETE")
            .withHeader("Allow", "PUT, POST, GET, HEAD, DELETE, OPTIONS"));
      }
    }
  }

  // ------------------------------------------------------------------------------------------ PUT

  private void create(RoutingContext ctx, String name) {
    HttpServerRequest request = ctx.request();
    ForkSpec fork = ProtocolHeaders.fork(request.headers());
    String contentType = ProtocolHeaders.contentType(request.headers());
    if (contentType == null && fork == null) {
      contentType = ContentTypes.DEFAULT;
    }
    long ttl = ProtocolHeaders.ttlSeconds(request.headers());
    long expiresAt = ProtocolHeaders.expiresAtMillis(request.headers());
    if (ttl >= 0 && expiresAt >= 0) {
      throw new ApiError.Refusal(400, "conflicting_expiry", "send Stream-TTL or Stream-Expires-At, not both");
    }
    boolean closed = ProtocolHeaders.flag(request.getHeader(CLOSED));
    StreamSettings settings = new StreamSettings(contentType, ttl, expiresAt);
    List<byte[]> initial = initialEvents(RequestBody.of(ctx), contentType);
    CreateSpec spec = new CreateSpec(settings, initial, closed, fork);
    services.router().request(name, new StreamRequest.Create(spec)).onComplete(res -> {
      if (res.failed()) {
        Replies.failure(res.cause()).send(ctx.response());
        return;
      }
      StreamReply reply = res.result();
      HttpServerResponse response = ctx.response();
      if (reply.outcome() == Outcome.CREATED || reply.outcome() == Outcome.EXISTS) {
        response.setStatusCode(reply.outcome() == Outcome.CREATED ? 201 : 200);
        Replies.metadata(response, reply);
        if (reply.outcome() == Outcome.CREATED) {
          response.putHeader("Location", request.absoluteURI());
        }
        response.end();
      } else {
        Replies.refusal(reply).send(response);
      }
    });
  }

  /** A PUT body: one event, JSON-flattened for JSON streams (an empty array creates an empty stream). */
  private static List<byte[]> initialEvents(Buffer body, String contentType) {
    if (body.length() == 0) {
      return List.of();
    }
    byte[] bytes = body.getBytes();
    if (ContentTypes.isJson(contentType)) {
      JsonBatch batch = parseJson(bytes);
      return batch.messageCount() == 0 ? List.of() : List.of(batch.payload());
    }
    return List.of(bytes);
  }

  static JsonBatch parseJson(byte[] bytes) {
    try {
      return JsonBatch.parse(bytes);
    } catch (IllegalArgumentException e) {
      throw new ApiError.Refusal(400, "invalid_json", "body is not valid JSON: " + e.getMessage());
    }
  }

  // ------------------------------------------------------------------------------------------ POST

  private void append(RoutingContext ctx, String name) {
    HttpServerRequest request = ctx.request();
    boolean close = ProtocolHeaders.flag(request.getHeader(CLOSED));
    ProducerHeaders producer = ProtocolHeaders.producer(request.headers());
    String streamSeq = request.getHeader(SEQ);
    String contentType = ProtocolHeaders.contentType(request.headers());
    AppendSpec spec = appendSpec(RequestBody.of(ctx).getBytes(), contentType, close, streamSeq, producer);
    services.router().request(name, new StreamRequest.Append(spec)).onComplete(res -> {
      if (res.failed()) {
        Replies.failure(res.cause()).send(ctx.response());
        return;
      }
      StreamReply reply = res.result();
      HttpServerResponse response = ctx.response();
      if (reply.outcome() == Outcome.APPENDED || reply.outcome() == Outcome.DUPLICATE) {
        boolean fresh = reply.outcome() == Outcome.APPENDED && producer != null && spec.hasData();
        response.setStatusCode(fresh ? 200 : 204);
        if (reply.next() != null) {
          response.putHeader(ProtocolHeaders.NEXT_OFFSET, reply.next().toString());
        }
        if (reply.closed()) {
          response.putHeader(CLOSED, "true");
        }
        if (reply.producerEpoch() >= 0) {
          response.putHeader(PRODUCER_EPOCH, Long.toString(reply.producerEpoch()));
          response.putHeader(PRODUCER_SEQ, Long.toString(reply.producerSeq()));
        }
        response.end();
      } else {
        Replies.refusal(reply).send(response);
      }
    });
  }

  /** Validates one append as the protocol requires (shared with WebSocket appends). */
  static AppendSpec appendSpec(byte[] body, String contentType, boolean close, String streamSeq,
                               ProducerHeaders producer) {
    if (body.length == 0) {
      if (!close) {
        throw new ApiError.Refusal(400, "empty_body", "an append needs a body (or Stream-Closed: true to close)");
      }
      return new AppendSpec(new byte[0], null, true, streamSeq, producer);
    }
    if (contentType == null) {
      throw new ApiError.Refusal(400, "missing_content_type", "an append with a body needs a Content-Type");
    }
    byte[] payload = body;
    if (ContentTypes.isJson(contentType)) {
      JsonBatch batch = parseJson(body);
      if (batch.messageCount() == 0) {
        throw new ApiError.Refusal(400, "empty_json_array", "an append must carry at least one JSON message");
      }
      payload = batch.payload();
    }
    return new AppendSpec(payload, contentType, close, streamSeq, producer);
  }

  // ------------------------------------------------------------------------------------------ GET

  private void get(RoutingContext ctx, String name) {
    HttpServerRequest request = ctx.request();
    ReadStart start = ProtocolHeaders.offset(request.params());
    String mode = ProtocolHeaders.live(request.params());
    if (mode != null) {
      if (start == null) {
        throw new ApiError.Refusal(400, "missing_offset", "live reads need an offset parameter (-1, now or an offset)");
      }
      live.serve(ctx, name, start, mode);
      return;
    }
    ReadStart from = start == null ? ReadStart.BEGINNING : start;
    services.router().request(name, new StreamRequest.Read(from, config.maxReadBytes(), true)).onComplete(res -> {
      if (res.failed()) {
        Replies.failure(res.cause()).send(ctx.response());
        return;
      }
      StreamReply reply = res.result();
      HttpServerResponse response = ctx.response();
      if (reply.outcome() != Outcome.OK) {
        Replies.refusal(reply).send(response);
        return;
      }
      String etag = Replies.etag(reply);
      response.putHeader("ETag", etag);
      response.putHeader("Cache-Control", start instanceof ReadStart.Now ? "no-store" : "no-cache");
      if (etag.equals(request.getHeader("If-None-Match"))) {
        response.setStatusCode(304).end();
        return;
      }
      Replies.metadata(response, reply);
      if (reply.upToDate()) {
        response.putHeader(UP_TO_DATE, "true");
      }
      response.setStatusCode(200).end(EventFormat.of(reply.settings().contentType()).body(reply.events()));
    });
  }

  // ------------------------------------------------------------------------------------------ HEAD

  private void head(RoutingContext ctx, String name) {
    services.router().request(name, new StreamRequest.Read(ReadStart.NOW, 0, false)).onComplete(res -> {
      if (res.failed()) {
        Replies.failure(res.cause()).send(ctx.response());
        return;
      }
      StreamReply reply = res.result();
      HttpServerResponse response = ctx.response();
      if (reply.outcome() != Outcome.OK) {
        ApiError error = Replies.refusal(reply);
        response.setStatusCode(error.status());
        error.headers().forEach(response::putHeader);
        response.end();
        return;
      }
      Replies.metadata(response, reply);
      response.putHeader("Cache-Control", "no-store");
      response.setStatusCode(200).end();
    });
  }

  // ------------------------------------------------------------------------------------------ DELETE

  private void delete(RoutingContext ctx, String name) {
    services.router().request(name, new StreamRequest.Delete()).onComplete(res -> {
      if (res.failed()) {
        Replies.failure(res.cause()).send(ctx.response());
        return;
      }
      StreamReply reply = res.result();
      if (reply.outcome() == Outcome.DELETED) {
        ctx.response().setStatusCode(204).end();
      } else {
        Replies.refusal(reply).send(ctx.response());
      }
    });
  }
}
