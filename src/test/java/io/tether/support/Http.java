package io.tether.support;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpConnectOptions;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/** A blocking HTTP client for tests, on its own Vert.x instance (not the node's). */
public final class Http implements AutoCloseable {

  private final Vertx vertx = Vertx.vertx();
  private final HttpClientAgent client;
  private final String host;
  private final int port;

  public Http(int port) {
    this("127.0.0.1", port);
  }

  /** A client of a node listening on {@code host} (a node in a network namespace has an address of its own). */
  public Http(String host, int port) {
    this.host = host;
    this.port = port;
    // A new connection per request, outside the client's pool: the Vert.x 5.0.10 pool occasionally hands a
    // request to a connection it is evicting, and that request never completes (seen with and without
    // keep-alive; the server had answered every request it received). Fresh connections keep the tests
    // about the server.
    this.client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost(host).setDefaultPort(port)
        .setKeepAlive(false), new PoolOptions().setHttp1MaxSize(64));
  }

  public int port() {
    return port;
  }

  public Vertx vertx() {
    return vertx;
  }

  public Resp request(HttpMethod method, String path, Map<String, String> headers, byte[] body) {
    try {
      return attempt(method, path, headers, body);
    } catch (AssertionError hung) {
      // The server answers every request within its route deadline (10 s), so a request with no answer
      // after 20 s is one the client never completed (seen rarely with the Vert.x 5.0.10 client). Reads
      // are retried once on a new connection; a server that really hangs fails the retry too.
      if (method != HttpMethod.GET && method != HttpMethod.HEAD) {
        throw hung;
      }
      System.err.println("test client: " + method + " " + path + " got no answer in 20 s; retrying once");
      return attempt(method, path, headers, body);
    }
  }

  private Resp attempt(HttpMethod method, String path, Map<String, String> headers, byte[] body) {
    RequestOptions options = new RequestOptions().setMethod(method).setURI(path);
    headers.forEach(options::putHeader);
    return Await.result(client.connect(new HttpConnectOptions().setHost(host).setPort(port))
        .compose(connection -> connection.request(options)
            .compose(req -> req.send(body == null ? Buffer.buffer() : Buffer.buffer(body)))
            .compose(res -> res.body().map(b -> new Resp(res.statusCode(), res.headers(), b.getBytes())))
            .eventually(connection::close)), 20);
  }

  public Resp put(String path, String contentType, String body) {
    return request(HttpMethod.PUT, path, contentType == null ? Map.of() : Map.of("Content-Type", contentType),
        body == null ? null : body.getBytes(StandardCharsets.UTF_8));
  }

  public Resp post(String path, String contentType, String body) {
    return request(HttpMethod.POST, path, contentType == null ? Map.of() : Map.of("Content-Type", contentType),
        body.getBytes(StandardCharsets.UTF_8));
  }

  public Resp post(String path, Map<String, String> headers, String body) {
    return request(HttpMethod.POST, path, headers, body.getBytes(StandardCharsets.UTF_8));
  }

  public Resp get(String path) {
    return request(HttpMethod.GET, path, Map.of(), null);
  }

  public Resp get(String path, Map<String, String> headers) {
    return request(HttpMethod.GET, path, headers, null);
  }

  public Resp head(String path) {
    return request(HttpMethod.HEAD, path, Map.of(), null);
  }

  public Resp delete(String path) {
    return request(HttpMethod.DELETE, path, Map.of(), null);
  }

  /** Opens an SSE stream; events are collected as they arrive. */
  public SseReader sse(String path) {
    return SseReader.open(client, path);
  }

  /** Opens a WebSocket; frames are collected as they arrive. */
  public WsReader ws(String path) {
    WebSocketClient ws = vertx.createWebSocketClient(new WebSocketClientOptions()
        .setMaxFrameSize(16 << 20).setMaxMessageSize(16 << 20));
    return WsReader.open(ws, new WebSocketConnectOptions().setHost(host).setPort(port).setURI(path));
  }

  @Override
  public void close() {
    Await.result(vertx.close(), 10);
  }

  /** A response read whole. */
  public record Resp(int status, MultiMap headers, byte[] bytes) {
    public String body() {
      return new String(bytes, StandardCharsets.UTF_8);
    }

    public String header(String name) {
      return headers.get(name);
    }

    public JsonObject json() {
      return new JsonObject(body());
    }

    /** The {@code error.code} of a refusal body. */
    public String errorCode() {
      return json().getJsonObject("error").getString("code");
    }
  }
}
