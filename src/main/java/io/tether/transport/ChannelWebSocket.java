package io.tether.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.Utf8FrameValidator;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakeException;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.net.impl.ConnectionBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A server WebSocket on the Netty channel of the HTTP connection it was upgraded from, with Netty's own
 * WebSocket codec and none of Vert.x's WebSocket objects.
 *
 * <p>Why not {@code request.toWebSocket()}: Vert.x 5.0.10 gives every upgraded socket a connection object
 * of its own, built outside strict thread mode (so with a 4.7 KiB outbound queue), and keeps the upgrade's
 * request, response and routing context reachable from it; an idle WebSocket cost 13.9 KiB of heap, an
 * idle SSE connection 7.6. Here the HTTP connection stays what it was for SSE (its request simply never
 * ends; the connection's close handlers run when the socket closes), the HTTP codec is swapped for the
 * WebSocket one, and one handler of this class sits in front of Vert.x's.
 *
 * <p>All methods run on the channel's event loop, which is the event loop of the request's Vert.x
 * context; events are handed to the handlers through that context ({@link ContextInternal#dispatch}),
 * so timers, futures and event-bus replies behave as in any Vert.x handler. Writes do not flush:
 * {@link #flush()} does, once per batch of frames.
 */
final class ChannelWebSocket extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(ChannelWebSocket.class);

  /** How long a close we sent waits for the peer's close frame before the connection is cut. */
  static final long CLOSING_TIMEOUT_MILLIS = 10_000;
  /** The name of Vert.x's connection handler in an HTTP/1.x pipeline; this class's handler goes before it. */
  private static final String VERTX_HANDLER = "handler";

  private final ContextInternal context;
  private final Channel channel;
  private ChannelHandlerContext chctx;
  private Handler<String> textHandler = t -> { };
  private Handler<Void> binaryHandler = v -> { };
  private Handler<Void> pongHandler = v -> { };
  private static final Handler<Void> NO_CLOSE_HANDLER = v -> { };
  private Handler<Void> closeHandler = NO_CLOSE_HANDLER;
  private Runnable drainHandler;
  private boolean started;
  private boolean paused;
  private boolean closeSent;
  private boolean closeReceived;
  /** The connection is gone; {@link #closeHandler} ran (or runs as soon as it is set). */
  private boolean inactive;
  private boolean closeReported;
  private ScheduledFuture<?> closingTimeout;

  private ChannelWebSocket(ContextInternal context, Channel channel) {
    this.context = context;
    this.channel = channel;
  }

  /**
   * Why {@code request} cannot become a WebSocket, or {@code null} if it can. Checked before anything is
   * counted for the connection; the refusals are Tether's JSON errors, not a bare status.
   */
  static ApiError refusal(HttpServerRequest request) {
    String upgrade = request.getHeader("Upgrade");
    String connection = request.getHeader("Connection");
    if (upgrade == null || !upgrade.equalsIgnoreCase("websocket") || connection == null
        || !connection.toLowerCase(Locale.ROOT).contains("upgrade")) {
      return ApiError.of(400, "websocket_upgrade_required",
          "live=ws needs a WebSocket upgrade request (Upgrade: websocket, Connection: Upgrade)");
    }
    if (!"13".equals(request.getHeader("Sec-WebSocket-Version"))) {
      return ApiError.of(426, "websocket_version_unsupported", "this server speaks WebSocket version 13 (RFC 6455)")
          .withHeader("Sec-WebSocket-Version", "13");
    }
    String key = request.getHeader("Sec-WebSocket-Key");
    if (key == null || key.isBlank()) {
      return ApiError.of(400, "websocket_upgrade_required", "a WebSocket upgrade needs a Sec-WebSocket-Key header");
    }
    if (!(request.connection() instanceof ConnectionBase)) {
      return ApiError.of(400, "websocket_upgrade_required", "WebSockets are served over HTTP/1.1 only");
    }
    return null;
  }

  /**
   * Answers {@code request} (which passed {@link #refusal}) with {@code 101} and turns its connection
   * into a WebSocket. Must run on the request's context. The future fails if the connection closed
   * before the answer was written.
   *
   * @param maxMessageBytes the largest frame and the largest message (fragments joined) accepted
   * @param writeQueueBytes bytes queued for the peer beyond which {@link #writeQueueFull()} is true
   */
  static Future<ChannelWebSocket> accept(ContextInternal context, HttpServerRequest request, int maxMessageBytes,
                                         int writeQueueBytes) {
    Channel channel = ((ConnectionBase) request.connection()).channel();
    HttpHeaders headers = new DefaultHttpHeaders();
    request.headers().forEach(e -> headers.add(e.getKey(), e.getValue()));
    DefaultFullHttpRequest netty = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, request.uri(),
        Unpooled.EMPTY_BUFFER, headers, EmptyHttpHeaders.INSTANCE);
    WebSocketDecoderConfig config = WebSocketDecoderConfig.newBuilder()
        .maxFramePayloadLength(maxMessageBytes)
        .allowExtensions(false)
        .allowMaskMismatch(false)
        .build();
    // Version 13 does not send the location back; the factory only keeps it.
    String location = (request.isSSL() ? "wss://" : "ws://") + "tether" + request.uri();
    WebSocketServerHandshaker handshaker = new WebSocketServerHandshakerFactory(location, null, config)
        .newHandshaker(netty);
    Promise<ChannelWebSocket> promise = context.promise();
    if (handshaker == null) {
      promise.fail(new ApiError.Refusal(refusal(request)));
      return promise.future();
    }
    ChannelPipeline pipeline = channel.pipeline();
    if (pipeline.get(VERTX_HANDLER) == null) {
      promise.fail(new IllegalStateException("no Vert.x handler in the pipeline " + pipeline.names()));
      return promise.future();
    }
    ChannelWebSocket socket = new ChannelWebSocket(context, channel);
    try {
      // Writes the 101 through the HTTP encoder, replaces the HTTP decoder with the WebSocket decoder
      // at once and removes the encoder once the 101 is out. Nothing is read in between: this runs on
      // the channel's event loop.
      handshaker.handshake(channel, netty, EmptyHttpHeaders.INSTANCE, channel.newPromise()).addListener(f -> {
        if (f.isSuccess()) {
          // Vert.x keeps the upgrade request (and its response, never sent) for the connection's life;
          // their headers are not read again. A browser's upgrade carries 1-2 KiB of them (cookies,
          // user agent, the credential), which need not stay on the heap, and the credential not at all.
          request.headers().clear();
          request.response().headers().clear();
          promise.tryComplete(socket);
        } else {
          promise.tryFail(f.cause());
        }
      });
    } catch (WebSocketServerHandshakeException e) {
      // Thrown before anything was written or moved: the request can still be answered over HTTP.
      promise.tryFail(new ApiError.Refusal(400, "websocket_upgrade_required", e.getMessage()));
      return promise.future();
    }
    // No frame is read before the socket's owner has set its handlers and called start().
    channel.config().setAutoRead(false);
    pipeline.addBefore(VERTX_HANDLER, "tetherWsUtf8", new Utf8FrameValidator(true));
    pipeline.addBefore(VERTX_HANDLER, "tetherWsAggregator", new WebSocketFrameAggregator(maxMessageBytes));
    pipeline.addBefore(VERTX_HANDLER, "tetherWs", socket);
    channel.config().setWriteBufferWaterMark(new WriteBufferWaterMark(writeQueueBytes / 2, writeQueueBytes));
    return promise.future();
  }

  // ----------------------------------------------------------------------------------- handlers

  ChannelWebSocket textHandler(Handler<String> handler) {
    this.textHandler = handler;
    return this;
  }

  /** A binary message arrived (its content is dropped). */
  ChannelWebSocket binaryHandler(Handler<Void> handler) {
    this.binaryHandler = handler;
    return this;
  }

  ChannelWebSocket pongHandler(Handler<Void> handler) {
    this.pongHandler = handler;
    return this;
  }

  /** The connection is gone (runs once). */
  ChannelWebSocket closeHandler(Handler<Void> handler) {
    this.closeHandler = handler;
    if (inactive || !channel.isActive()) {
      inactive = true;
      reportClosed();
    }
    return this;
  }

  // ----------------------------------------------------------------------------------- writing

  /** Queues a text frame; {@link #flush()} sends it. Dropped once a close frame was sent or received. */
  void write(CharSequence text) {
    if (!isClosed()) {
      chctx.write(new TextWebSocketFrame(ByteBufUtil.writeUtf8(chctx.alloc(), text)), chctx.voidPromise());
    }
  }

  /** A buffer for {@link #write(ByteBuf)}, from the channel's allocator. */
  ByteBuf buffer(int initialCapacity) {
    return chctx.alloc().buffer(initialCapacity);
  }

  /**
   * Queues a text frame of the UTF-8 in {@code utf8} (which this call releases); {@link #flush()} sends
   * it.
   */
  void write(ByteBuf utf8) {
    if (isClosed()) {
      utf8.release();
    } else {
      chctx.write(new TextWebSocketFrame(utf8), chctx.voidPromise());
    }
  }

  /** Queues a ping frame; {@link #flush()} sends it. */
  void writePing(String payload) {
    if (!isClosed()) {
      chctx.write(new PingWebSocketFrame(ByteBufUtil.writeAscii(chctx.alloc(), payload)), chctx.voidPromise());
    }
  }

  void flush() {
    chctx.flush();
  }

  /** {@link #write} and {@link #flush()}. */
  void send(CharSequence text) {
    write(text);
    flush();
  }

  /** Whether more than the write queue bound waits for the peer. */
  boolean writeQueueFull() {
    return !channel.isWritable();
  }

  /**
   * Runs {@code next} now if the write queue has room, else once it drains (unless {@code done} by
   * then): how a replay is paced by its reader.
   */
  void whenWritable(BooleanSupplier done, Runnable next) {
    if (done.getAsBoolean()) {
      return;
    }
    if (!writeQueueFull()) {
      next.run();
      return;
    }
    drainHandler = () -> {
      if (!done.getAsBoolean()) {
        next.run();
      }
    };
  }

  /** The handlers are set: frames are read from now on (unless {@link #pause() paused}). */
  void start() {
    started = true;
    if (!paused) {
      channel.config().setAutoRead(true);
    }
  }

  /** Stops reading frames from the peer (TCP back-pressure) until {@link #resume()}. */
  void pause() {
    paused = true;
    channel.config().setAutoRead(false);
  }

  void resume() {
    paused = false;
    if (started) {
      channel.config().setAutoRead(true);
    }
  }

  /** Whether a close frame was sent or received, or the connection is gone: nothing more is written. */
  boolean isClosed() {
    return closeSent || closeReceived || !channel.isActive();
  }

  /**
   * Sends a close frame with {@code code} and {@code reason} (at most 123 bytes of UTF-8), then waits for
   * the peer's close frame, at most {@link #CLOSING_TIMEOUT_MILLIS}, before closing the connection.
   */
  void close(short code, String reason) {
    if (isClosed()) {
      if (channel.isActive() && closeReceived) {
        channel.close();
      }
      return;
    }
    closeSent = true;
    chctx.writeAndFlush(new CloseWebSocketFrame(code, truncate(reason))).addListener(f -> {
      if (!f.isSuccess()) {
        channel.close();
      } else if (channel.isActive()) {
        closingTimeout = channel.eventLoop().schedule(() -> {
          channel.close();
        }, CLOSING_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
      }
    });
  }

  /**
   * A close reason fits a control frame: 125 bytes, 2 of which are the code. A longer one is cut at the
   * last whole UTF-8 character within 123 bytes.
   */
  static String truncate(String reason) {
    byte[] utf8 = reason.getBytes(StandardCharsets.UTF_8);
    if (utf8.length <= 123) {
      return reason;
    }
    int end = 123;
    while ((utf8[end] & 0xC0) == 0x80) {
      end--;
    }
    return new String(utf8, 0, end, StandardCharsets.UTF_8);
  }

  // ----------------------------------------------------------------------------------- Netty side

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.chctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof WebSocketFrame frame)) {
      // What is left of the upgrade request (its empty last content): not for the socket.
      ReferenceCountUtil.release(msg);
      return;
    }
    try {
      if (frame instanceof TextWebSocketFrame text) {
        if (!isClosed()) {
          context.dispatch(text.text(), textHandler);
        }
      } else if (frame instanceof PingWebSocketFrame) {
        if (!isClosed()) {
          ctx.writeAndFlush(new PongWebSocketFrame(frame.content().retain()), ctx.voidPromise());
        }
      } else if (frame instanceof PongWebSocketFrame) {
        context.dispatch(null, pongHandler);
      } else if (frame instanceof BinaryWebSocketFrame) {
        if (!isClosed()) {
          context.dispatch(null, binaryHandler);
        }
      } else if (frame instanceof CloseWebSocketFrame close) {
        onCloseFrame(close);
      }
    } finally {
      frame.release();
    }
  }

  private void onCloseFrame(CloseWebSocketFrame close) {
    if (closeReceived) {
      return;
    }
    closeReceived = true;
    if (closeSent) {
      // The answer to ours: the handshake is complete.
      channel.close();
      return;
    }
    // Echo the peer's code (RFC 6455 5.5.1), then close.
    CloseWebSocketFrame answer;
    try {
      answer = close.statusCode() < 0 ? new CloseWebSocketFrame() : new CloseWebSocketFrame(close.statusCode(), null);
    } catch (IllegalArgumentException reservedCode) {
      answer = new CloseWebSocketFrame();
    }
    closeSent = true;
    chctx.writeAndFlush(answer).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    Runnable drain = drainHandler;
    if (drain != null && channel.isWritable()) {
      drainHandler = null;
      context.dispatch(drain);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (closingTimeout != null) {
      closingTimeout.cancel(false);
    }
    inactive = true;
    reportClosed();
    // Vert.x's HTTP connection behind this handler runs its close handlers (the per-address limit, the
    // request's end) as for any other connection.
    super.channelInactive(ctx);
  }

  private void reportClosed() {
    if (!closeReported && closeHandler != NO_CLOSE_HANDLER) {
      closeReported = true;
      context.dispatch(null, closeHandler);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("WebSocket error: {}", cause.toString());
    if (cause instanceof CorruptedWebSocketFrameException) {
      // The decoder (or the UTF-8 validator) already sent its close frame (1002, 1007 or 1009) and
      // closes the connection once it is out.
      closeSent = true;
    } else if (cause instanceof TooLongFrameException) {
      // A message whose fragments together exceed the bound.
      close((short) WebSocketCloseStatus.MESSAGE_TOO_BIG.code(), "message too big");
    } else {
      channel.close();
    }
  }
}
