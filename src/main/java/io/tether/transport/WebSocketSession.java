package io.tether.transport;

import io.tether.cluster.StreamServices;
import io.tether.cluster.live.LiveSubscription;
import io.tether.cluster.routing.StreamRequest;
import io.tether.conversation.SessionCommand;
import io.tether.security.TokenService;
import io.tether.stream.AppendSpec;
import io.tether.stream.ContentTypes;
import io.tether.stream.Offset;
import io.tether.stream.Outcome;
import io.tether.stream.ProducerHeaders;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.netty.buffer.ByteBuf;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

/**
 * {@code GET /v1/stream/{name}?live=ws&offset=...}: the WebSocket transport. The server replays from
 * the offset, then sends each new event as it is appended; the client may append on the same socket.
 * Frames are JSON text, specified in {@code docs/protocol.md}:
 *
 * <ul>
 *   <li>server: {@code data} (one per event, with its {@code offset} and {@code nextOffset}),
 *       {@code control} (after each batch: {@code nextOffset}, {@code upToDate}, {@code closed}),
 *       {@code heartbeat}, {@code ack}, {@code error}, {@code pong};</li>
 *   <li>client: {@code append}, {@code ping}.</li>
 * </ul>
 * Refusals of the read side close the socket with a 44xx code whose last three digits are the HTTP
 * status; refusals of an append are {@code error} frames and leave the socket open.
 *
 * <p>What a socket may cost is bounded: the replay is paced by the socket's write queue; a live reader
 * whose queue holds more than {@code TETHER_MAX_READ_BYTES} is closed ({@value #CLOSE_SLOW_CONSUMER});
 * at most {@value #MAX_PENDING} appends and commands are in flight per socket, and the socket stops
 * being read while they are; a peer that answers no ping for three heartbeats is closed
 * ({@value #CLOSE_NO_PONG}); the socket closes ({@value #CLOSE_TOKEN_EXPIRED}) when the token it was
 * opened with expires.
 */
final class WebSocketSession implements LiveSubscription.Listener {

  private static final Logger log = LoggerFactory.getLogger(WebSocketSession.class);

  /** Close codes (the HTTP status plus 4000 for refusals). */
  static final short CLOSE_STREAM_CLOSED = 1000;
  /** Standard "service restart": the node is shutting down; reconnect (to another node) from the last offset. */
  static final short CLOSE_NODE_SHUTDOWN = 1012;
  static final short CLOSE_BAD_REQUEST = 4400;
  static final short CLOSE_NOT_FOUND = 4404;
  static final short CLOSE_GONE = 4410;
  static final short CLOSE_SLOW_CONSUMER = 4429;
  static final short CLOSE_UNAVAILABLE = 4503;
  static final short CLOSE_TOKEN_EXPIRED = 4401;
  static final short CLOSE_NO_PONG = 4408;
  /** Appends and commands in flight per socket before it stops reading. */
  static final int MAX_PENDING = 16;

  private final StreamServices services;
  private final RoutingContext ctx;
  private final String stream;
  private final Runnable release;
  private final LiveSubscription subscription;
  private ChannelWebSocket socket;
  private EventFormat format;
  private long heartbeat = -1;
  private boolean done;
  /** Appends from one socket are sent one after the other, so they are applied in the order sent. */
  private Future<?> appends = Future.succeededFuture();
  /** Appends and commands sent and not answered yet; at {@link #MAX_PENDING} the socket is paused. */
  private int pending;
  private boolean paused;
  private long lastHeard = System.currentTimeMillis();
  private long expiry = -1;
  private final long expiresAtMillis;
  private final long writeUntilMillis;

  WebSocketSession(StreamServices services, RoutingContext ctx, String stream, ReadStart start, long expiresAtMillis,
                   long writeUntilMillis, Runnable release) {
    this.services = services;
    this.ctx = ctx;
    this.stream = stream;
    this.release = release;
    this.expiresAtMillis = expiresAtMillis;
    this.writeUntilMillis = writeUntilMillis;
    this.subscription = new LiveSubscription(services, stream, start, this);
  }

  /**
   * The largest frame, and message, a client may send: an append of {@code TETHER_MAX_APPEND_BYTES}
   * with room for base64 or JSON escaping and the frame's other fields.
   */
  static int frameLimit(io.tether.config.TetherConfig config) {
    return config.maxAppendBytes() * 2 + 65_536;
  }

  void start() {
    ContextInternal context = (ContextInternal) services.vertx().getOrCreateContext();
    ChannelWebSocket.accept(context, ctx.request(), frameLimit(services.config()), services.config().maxReadBytes())
        .onComplete(ar -> {
          Drain.upgraded(ctx);
          if (ar.failed()) {
            log.debug("WebSocket upgrade failed: {}", ar.cause().getMessage());
            if (ar.cause() instanceof ApiError.Refusal refusal) {
              refusal.error().send(ctx.response());
            }
            release.run();
            return;
          }
          socket = ar.result();
          socket.textHandler(text -> {
            lastHeard = System.currentTimeMillis();
            onText(text);
          });
          socket.binaryHandler(b -> error(null, ApiError.of(400, "invalid_frame", "frames are JSON text")));
          socket.pongHandler(b -> lastHeard = System.currentTimeMillis());
          socket.closeHandler(v -> finish());
          if (done) {
            return;
          }
          socket.start();
          long interval = services.config().heartbeatSeconds() * 1000L;
          heartbeat = services.vertx().setPeriodic(interval, interval, t -> heartbeat());
          if (expiresAtMillis != Long.MAX_VALUE) {
            expiry = services.vertx().setTimer(Math.max(1, expiresAtMillis - System.currentTimeMillis()), t -> {
              expiry = -1;
              close(CLOSE_TOKEN_EXPIRED, "token expired; reconnect with a new token");
            });
          }
          subscription.start();
        });
  }

  // ----------------------------------------------------------------------------------- server -> client

  @Override
  public void onData(Offset start, List<byte[]> events, Offset next, boolean upToDate, boolean closed) {
    if (done) {
      return;
    }
    if (socket.isClosed()) {
      // A close frame was sent or received; the close handler runs only once the connection is gone.
      finish();
      return;
    }
    if (format == null) {
      format = EventFormat.of(subscription.settings().contentType());
    }
    Offset at = start;
    for (byte[] event : events) {
      Offset after = at.plus(event.length);
      socket.write(dataFrame(at, after, event));
      at = after;
    }
    // A fixed template of ASCII (offsets are digits and '_'): no JSON encoder needed.
    ByteBuf control = socket.buffer(96);
    control.writeCharSequence("{\"type\":\"control\",\"nextOffset\":\"", StandardCharsets.US_ASCII);
    control.writeCharSequence(next.toString(), StandardCharsets.US_ASCII);
    control.writeCharSequence(upToDate || closed ? "\",\"upToDate\":true" : "\",\"upToDate\":false",
        StandardCharsets.US_ASCII);
    control.writeCharSequence(closed ? ",\"closed\":true}" : "}", StandardCharsets.US_ASCII);
    socket.write(control);
    socket.flush();
    if (closed) {
      close(CLOSE_STREAM_CLOSED, "stream closed");
    } else if (subscription.isLive() && socket.writeQueueFull()) {
      services.metrics().slowConsumerCut();
      close(CLOSE_SLOW_CONSUMER, "too slow; reconnect from " + next);
    }
  }

  /**
   * A data frame, written as UTF-8 straight into a buffer for the socket: JSON messages are embedded as
   * stored (they were checked to be UTF-8 JSON when appended), as an array; text is JSON-escaped.
   */
  private ByteBuf dataFrame(Offset at, Offset after, byte[] event) {
    ByteBuf frame = socket.buffer(event.length + 112);
    frame.writeCharSequence("{\"type\":\"data\",\"offset\":\"", StandardCharsets.US_ASCII);
    frame.writeCharSequence(at.toString(), StandardCharsets.US_ASCII);
    frame.writeCharSequence("\",\"nextOffset\":\"", StandardCharsets.US_ASCII);
    frame.writeCharSequence(after.toString(), StandardCharsets.US_ASCII);
    frame.writeCharSequence("\",\"data\":", StandardCharsets.US_ASCII);
    if (format.json()) {
      frame.writeByte('[').writeBytes(event).writeByte(']');
    } else if (format.binary()) {
      frame.writeByte('"').writeBytes(Base64.getEncoder().encode(event));
      frame.writeCharSequence("\",\"encoding\":\"base64\"", StandardCharsets.US_ASCII);
    } else {
      frame.writeByte('"').writeBytes(JSON_STRINGS.quoteAsUTF8(new String(event, StandardCharsets.UTF_8)))
          .writeByte('"');
    }
    return frame.writeByte('}');
  }

  private static final JsonStringEncoder JSON_STRINGS = JsonStringEncoder.getInstance();

  @Override
  public void whenWritable(Runnable next) {
    if (!done && socket.isClosed()) {
      finish();
      return;
    }
    socket.whenWritable(() -> done, next);
  }

  @Override
  public void onEnd(StreamReply reply, Throwable error) {
    if (done) {
      return;
    }
    ApiError e = reply != null ? Replies.refusal(reply) : Replies.failure(error);
    socket.send(errorFrame(null, e).encode());
    short code = switch (e.status()) {
      case 404 -> CLOSE_NOT_FOUND;
      case 410 -> CLOSE_GONE;
      case 400 -> CLOSE_BAD_REQUEST;
      default -> CLOSE_UNAVAILABLE;
    };
    close(code, e.code());
  }

  @Override
  public void onNodeShutdown() {
    if (done || socket == null) {
      return;
    }
    Offset position = subscription.position();
    close(CLOSE_NODE_SHUTDOWN, position == null ? "node shutting down; reconnect" : "node shutting down; reconnect from " + position);
  }

  private void heartbeat() {
    if (done) {
      return;
    }
    long interval = services.config().heartbeatSeconds() * 1000L;
    if (System.currentTimeMillis() - lastHeard > 3 * interval) {
      // Every WebSocket client answers pings; one that has not for three heartbeats is gone.
      close(CLOSE_NO_PONG, "no answer to pings");
      return;
    }
    socket.writePing("hb");
    JsonObject frame = new JsonObject().put("type", "heartbeat");
    if (subscription.position() != null) {
      frame.put("nextOffset", subscription.position().toString());
    }
    socket.send(frame.encode());
  }

  // ----------------------------------------------------------------------------------- client -> server

  private void onText(String text) {
    JsonObject frame;
    try {
      frame = new JsonObject(text);
    } catch (DecodeException | ClassCastException e) {
      error(null, ApiError.of(400, "invalid_frame", "frames must be JSON objects"));
      return;
    }
    Object id = frame.getValue("id");
    String type = frame.getString("type");
    if ("ping".equals(type)) {
      socket.send(new JsonObject().put("type", "pong").put("id", id).encode());
    } else if ("append".equals(type)) {
      try {
        append(id, frame);
      } catch (ApiError.Refusal refusal) {
        error(id, refusal.error());
      } catch (ClassCastException | IllegalArgumentException e) {
        error(id, ApiError.of(400, "invalid_frame", "malformed append frame: " + e.getMessage()));
      }
    } else if ("command".equals(type)) {
      try {
        command(id, frame);
      } catch (ClassCastException e) {
        error(id, ApiError.of(400, "invalid_frame", "a command frame carries a JSON object in \"command\""));
      }
    } else {
      error(id, ApiError.of(400, "invalid_frame", "unknown frame type " + type + "; expected append, command or ping"));
    }
  }

  /** Commands a device may send on its session's socket (the same as the session API's POSTs). */
  private static final java.util.Set<String> SOCKET_COMMANDS = java.util.Set.of(SessionCommand.MESSAGE,
      SessionCommand.STOP, SessionCommand.APPROVE, SessionCommand.DENY, SessionCommand.TOOL_RESULT, SessionCommand.SNAPSHOT);

  private void command(Object id, JsonObject frame) {
    TokenService.SessionGrant grant = ctx.get(SessionHandler.GRANT);
    if (grant == null) {
      error(id, ApiError.of(400, "invalid_frame", "commands are sent on a session's stream"));
      return;
    }
    JsonObject command = frame.getJsonObject("command");
    String type = command == null ? null : command.getString("type");
    if (type == null || !SOCKET_COMMANDS.contains(type)) {
      error(id, ApiError.of(400, "invalid_command", "command type is one of " + SOCKET_COMMANDS));
      return;
    }
    boolean write = !type.equals(SessionCommand.SNAPSHOT);
    if (write && !grant.scope().allows(TokenService.Scope.WRITE)) {
      error(id, ApiError.of(403, "read_only_token", "the token only allows reading this session"));
      return;
    }
    command = command.copy().put("device", (String) ctx.get(SessionHandler.DEVICE));
    boolean retriable = !type.equals(SessionCommand.MESSAGE) || command.getString("messageId") != null;
    started();
    services.router().command(stream, new StreamRequest.Command(command.encode(), retriable)).onComplete(ar -> {
      answered();
      if (done) {
        return;
      }
      if (ar.failed()) {
        error(id, Replies.failure(ar.cause()));
        return;
      }
      SessionCommand.Result result = SessionCommand.Result.parse(ar.result());
      socket.send(new JsonObject().put("type", "result").put("id", id).put("status", result.status())
          .put("body", result.body()).encode());
    });
  }

  private void append(Object id, JsonObject frame) {
    if (System.currentTimeMillis() >= writeUntilMillis) {
      throw new ApiError.Refusal(writeUntilMillis == 0 ? 403 : 401, writeUntilMillis == 0 ? "append_not_allowed"
          : "token_expired", writeUntilMillis == 0
          ? "this socket may not append: open it with the API key or a stream token with write scope"
          : "the token that allowed appends on this socket expired");
    }
    String contentType = frame.getString("contentType");
    if (contentType == null && subscription.settings() != null) {
      contentType = subscription.settings().contentType();
    }
    boolean close = frame.getBoolean("close", false);
    byte[] body = frameBody(frame, contentType);
    if (body.length > services.config().maxAppendBytes()) {
      throw new ApiError.Refusal(413, "payload_too_large",
          "append exceeds " + services.config().maxAppendBytes() + " bytes");
    }
    ProducerHeaders producer = null;
    JsonObject p = frame.getJsonObject("producer");
    if (p != null) {
      String producerId = p.getString("id");
      Long epoch = p.getLong("epoch");
      Long seq = p.getLong("seq");
      if (producerId == null || producerId.isEmpty() || epoch == null || seq == null) {
        throw new ApiError.Refusal(400, "invalid_producer", "producer needs a non-empty id, an epoch and a seq");
      }
      if (epoch < 0 || seq < 0 || epoch > ProducerHeaders.MAX_VALUE || seq > ProducerHeaders.MAX_VALUE) {
        throw new ApiError.Refusal(400, "invalid_producer", "producer epoch and seq are between 0 and "
            + ProducerHeaders.MAX_VALUE);
      }
      ProtocolHeaders.checkProducerId(producerId);
      producer = new ProducerHeaders(producerId, epoch, seq);
    }
    AppendSpec spec = StreamHandler.appendSpec(body, body.length == 0 ? null : contentType, close,
        frame.getString("streamSeq"), producer);
    boolean withProducer = producer != null;
    started();
    appends = appends.transform(previous -> services.router().request(stream, new StreamRequest.Append(spec))
        .andThen(ar -> {
          answered();
          acknowledge(id, spec, withProducer, ar);
        }));
  }

  /** One more append or command in flight: at the bound, stop reading the socket until one is answered. */
  private void started() {
    pending++;
    if (pending >= MAX_PENDING && !paused) {
      paused = true;
      socket.pause();
    }
  }

  private void answered() {
    pending--;
    if (paused && pending < MAX_PENDING / 2) {
      paused = false;
      if (!done) {
        socket.resume();
      }
    }
  }

  private void acknowledge(Object id, AppendSpec spec, boolean withProducer, AsyncResult<StreamReply> ar) {
    if (done) {
      return;
    }
    if (ar.failed()) {
      error(id, Replies.failure(ar.cause()));
      return;
    }
    StreamReply reply = ar.result();
    if (reply.outcome() != Outcome.APPENDED && reply.outcome() != Outcome.DUPLICATE) {
      error(id, Replies.refusal(reply));
      return;
    }
    boolean fresh = reply.outcome() == Outcome.APPENDED;
    JsonObject ack = new JsonObject().put("type", "ack").put("id", id)
        .put("status", fresh && withProducer && spec.hasData() ? 200 : 204)
        .put("duplicate", !fresh)
        .put("nextOffset", reply.next() == null ? null : reply.next().toString());
    if (reply.start() != null && fresh && spec.hasData()) {
      ack.put("offset", reply.start().toString());
    }
    if (reply.closed()) {
      ack.put("closed", true);
    }
    if (reply.producerEpoch() >= 0) {
      ack.put("producerEpoch", reply.producerEpoch()).put("producerSeq", reply.producerSeq());
    }
    socket.send(ack.encode());
  }

  /** The bytes of an append frame's {@code data}: JSON for JSON streams, a string or base64 otherwise. */
  private static byte[] frameBody(JsonObject frame, String contentType) {
    if (!frame.containsKey("data")) {
      return new byte[0];
    }
    Object data = frame.getValue("data");
    if (contentType != null && ContentTypes.isJson(contentType)) {
      return Json.encode(data).getBytes(StandardCharsets.UTF_8);
    }
    if (!(data instanceof String text)) {
      throw new ApiError.Refusal(400, "invalid_frame", "data must be a string for non-JSON streams");
    }
    if ("base64".equals(frame.getString("encoding"))) {
      try {
        return Base64.getDecoder().decode(text);
      } catch (IllegalArgumentException e) {
        throw new ApiError.Refusal(400, "invalid_frame", "data is not valid base64");
      }
    }
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private void error(Object id, ApiError e) {
    if (!done) {
      socket.send(errorFrame(id, e).encode());
    }
  }

  private static JsonObject errorFrame(Object id, ApiError e) {
    JsonObject frame = new JsonObject().put("type", "error").put("status", e.status()).put("code", e.code())
        .put("message", e.message());
    if (id != null) {
      frame.put("id", id);
    }
    if (!e.headers().isEmpty()) {
      JsonObject headers = new JsonObject();
      e.headers().forEach(headers::put);
      frame.put("headers", headers);
    }
    return frame;
  }

  private void close(short code, String reason) {
    if (!done) {
      socket.close(code, reason);
      finish();
    }
  }

  private void finish() {
    if (done) {
      return;
    }
    done = true;
    if (heartbeat >= 0) {
      services.vertx().cancelTimer(heartbeat);
    }
    if (expiry >= 0) {
      services.vertx().cancelTimer(expiry);
    }
    subscription.close();
    release.run();
  }
}
