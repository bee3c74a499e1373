package io.tether.support;

import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** A WebSocket test client that keeps every text frame (as JSON), ping and the close status. */
public final class WsReader implements AutoCloseable {

  private final WebSocket socket;
  private final List<JsonObject> frames = new CopyOnWriteArrayList<>();
  private final AtomicInteger pings = new AtomicInteger();
  private volatile Short closeStatus;
  private volatile String closeReason;

  private WsReader(WebSocket socket) {
    this.socket = socket;
  }

  /**
   * Connects with every handler in place before the upgrade completes: the server writes its first frame
   * right after the handshake, and a handler set once the connect future completes can miss it.
   */
  static WsReader open(WebSocketClient client, WebSocketConnectOptions options) {
    ClientWebSocket socket = client.webSocket();
    WsReader reader = new WsReader(socket);
    socket.frameHandler(frame -> {
      if (frame.isPing()) {
        reader.pings.incrementAndGet();
      } else if (frame.isText() && frame.isFinal()) {
        reader.frames.add(new JsonObject(frame.textData()));
      }
    });
    socket.closeHandler(v -> {
      reader.closeStatus = socket.closeStatusCode();
      reader.closeReason = socket.closeReason();
    });
    Await.result(socket.connect(options));
    return reader;
  }

  public void send(JsonObject frame) {
    Await.result(socket.writeTextMessage(frame.encode()));
  }

  public void sendText(String text) {
    Await.result(socket.writeTextMessage(text));
  }

  public WebSocket socket() {
    return socket;
  }

  public List<JsonObject> frames() {
    return List.copyOf(frames);
  }

  public List<JsonObject> frames(String type) {
    return frames.stream().filter(f -> type.equals(f.getString("type"))).toList();
  }

  /** Concatenated {@code data} of the data frames (text streams). */
  public String text() {
    StringBuilder out = new StringBuilder();
    for (JsonObject f : frames("data")) {
      out.append(f.getString("data"));
    }
    return out.toString();
  }

  public int pings() {
    return pings.get();
  }

  public Short closeStatus() {
    return closeStatus;
  }

  public String closeReason() {
    return closeReason;
  }

  @Override
  public void close() {
    if (closeStatus == null) {
      socket.close();
    }
  }
}
