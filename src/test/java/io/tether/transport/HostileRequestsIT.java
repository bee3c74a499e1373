package io.tether.transport;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.RawHttp;
import io.tether.support.TestNodes;
import io.tether.support.WsReader;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Requests an attacker (or a broken client) sends, one row each: malformed offsets, headers, bodies,
 * methods, raw HTTP the parser must refuse, WebSocket frames. Whatever the row, the node answers with a
 * status below 500 (or 503, which tells the client to retry), never an internal error; and afterwards
 * the streams it touched are intact and the node still serves.
 */
class HostileRequestsIT {

  private static final int MAX_APPEND = 65_536;
  private static final String TEXT = "/v1/stream/hostile-text";
  private static final String JSON = "/v1/stream/hostile-json";
  /** For hostile requests that are valid after all (and are stored). */
  private static final String SCRATCH = "/v1/stream/hostile-scratch";
  private static final String TEXT_CONTENT = "intact text";
  private static final String JSON_CONTENT = "[1,{\"a\":\"b\"}]";

  private static TetherNode node;
  private static Http http;
  private static String sessionId;
  private static String sessionToken;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of(
        "TETHER_MAX_APPEND_BYTES", Integer.toString(MAX_APPEND),
        "TETHER_API_KEY", "hostile-key",
        "TETHER_TOKEN_SECRET", "a-secret-for-hostile-requests-of-32-chars",
        "TETHER_HEADER_TIMEOUT_MS", "2000",
        "TETHER_BODY_TIMEOUT_MS", "2000"));
    http = new Http(node.httpPort());
    assertThat(http.put(TEXT, "text/plain", TEXT_CONTENT).status()).isEqualTo(201);
    assertThat(http.put(JSON, "application/json", JSON_CONTENT).status()).isEqualTo(201);
    assertThat(http.put(SCRATCH, "application/json", null).status()).isEqualTo(201);
    Resp session = http.request(io.vertx.core.http.HttpMethod.POST, "/v1/sessions",
        Map.of("Authorization", "Bearer hostile-key"), new byte[0]);
    sessionId = session.json().getString("sessionId");
    sessionToken = session.json().getString("token");
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  @AfterEach
  void streamsAreIntactAndTheNodeServes() {
    Resp text = http.get(TEXT + "?offset=-1");
    assertThat(text.status()).isEqualTo(200);
    assertThat(text.body()).isEqualTo(TEXT_CONTENT);
    Resp json = http.get(JSON + "?offset=-1");
    assertThat(json.status()).isEqualTo(200);
    assertThat(new io.vertx.core.json.JsonArray(json.body())).isEqualTo(new io.vertx.core.json.JsonArray(JSON_CONTENT));
    assertThat(http.get("/v1/sessions/" + sessionId, Map.of("Authorization", "Bearer " + sessionToken)).status())
        .isEqualTo(200);
    assertThat(http.get("/health/ready").status()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).until(() -> node.services().metrics().totalConnections() == 0);
  }

  /** One hostile HTTP request: raw bytes, and whether closing without an answer is acceptable for it. */
  record Raw(String name, byte[] bytes, boolean mayCloseSilently) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Raw raw(String name, String request) {
    return new Raw(name, request.getBytes(StandardCharsets.ISO_8859_1), false);
  }

  private static Raw request(String name, String method, String target, String headers, String body) {
    String b = body == null ? "" : body;
    return raw(name, method + " " + target + " HTTP/1.1\r\nHost: tether\r\n" + headers
        + (body == null ? "" : "Content-Length: " + b.getBytes(StandardCharsets.ISO_8859_1).length + "\r\n")
        + "Connection: close\r\n\r\n" + b);
  }

  private static String utf16(String s) {
    return new String(s.getBytes(StandardCharsets.UTF_16LE), StandardCharsets.ISO_8859_1);
  }

  static Stream<Raw> httpRows() {
    List<Raw> rows = new ArrayList<>();
    String newStream = "/v1/stream/hostile-new-";
    int n = 0;
    // --- offsets and query parameters
    for (String query : List.of("offset=abc", "offset=-2", "offset=", "offset=now&offset=-1",
        "offset=99999999999999999999_0", "offset=0000000000000000_00000000000000000000",
        "offset=9999999999999999_9999999999999999", "offset=%00", "offset=-1&live=xyz", "live=sse",
        "offset=9999999999999999_9999999999999999&live=long-poll", "offset=-1&live=sse&cursor=%FF%FE",
        "offset=0000000000000001_9999999999999999", "offset=" + "1".repeat(3000))) {
      rows.add(request("GET ?" + query, "GET", TEXT + "?" + query, "", null));
    }
    // --- headers
    for (String expiry : List.of("+999999999-01-01T00:00:00Z", "-999999999-01-01T00:00:00Z", "2020-13-45T99:00:00Z",
        "1969-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "9999-12-31T23:59:59+18:00", "not a date")) {
      rows.add(request("PUT Stream-Expires-At " + expiry, "PUT", newStream + n++, "Stream-Expires-At: " + expiry + "\r\n", null));
    }
    for (String ttl : List.of("99999999999999999999", "-1", "1e3", "0x10", "01", " ")) {
      rows.add(request("PUT Stream-TTL " + ttl, "PUT", newStream + n++, "Stream-TTL: " + ttl + "\r\n", null));
    }
    for (String type : List.of("a/b/c", "/", "text/", "x".repeat(4000), "text/plain; charset=\"", "\u00ff/\u00fe")) {
      rows.add(request("PUT Content-Type " + type.length(), "PUT", newStream + n++, "Content-Type: " + type + "\r\n", null));
    }
    String producer = "Content-Type: text/plain\r\nProducer-Epoch: 0\r\nProducer-Seq: 0\r\n";
    rows.add(request("Producer-Id of 300 bytes", "POST", TEXT, producer + "Producer-Id: " + "p".repeat(300) + "\r\n", "x"));
    rows.add(request("Producer-Id of 86 three-byte characters", "POST", TEXT,
        producer + "Producer-Id: " + new String("\u20ac".repeat(86).getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1)
            + "\r\n", "x"));
    rows.add(request("Producer-Epoch overflow", "POST", TEXT,
        "Content-Type: text/plain\r\nProducer-Id: p\r\nProducer-Epoch: 99999999999999999999\r\nProducer-Seq: 0\r\n", "x"));
    rows.add(request("Producer-Seq negative", "POST", TEXT,
        "Content-Type: text/plain\r\nProducer-Id: p\r\nProducer-Epoch: 0\r\nProducer-Seq: -1\r\n", "x"));
    rows.add(request("Stream-Seq regression", "POST", TEXT, "Content-Type: text/plain\r\nStream-Seq: " + "\u0000" + "\r\n", "x"));
    rows.add(request("If-None-Match 7 KiB", "GET", TEXT, "If-None-Match: \"" + "e".repeat(7000) + "\"\r\n", null));
    for (String from : List.of("sessions/" + "S".repeat(22), "/v1/stream/sessions/" + "S".repeat(22),
        "http://x/v1/stream/sessions%2F" + "S".repeat(22), TEXT, "/v1/stream/hostile-missing", "", "%", "http://[::1",
        "/v1/stream/" + "a/".repeat(200))) {
      rows.add(request("PUT Stream-Forked-From '" + (from.length() > 40 ? from.substring(0, 40) : from) + "'", "PUT",
          newStream + n++, "Stream-Forked-From: " + from + "\r\n", null));
    }
    rows.add(request("fork offset beyond tail", "PUT", newStream + n++,
        "Stream-Forked-From: " + TEXT + "\r\nStream-Fork-Offset: 9999999999999999_0000000000000000\r\n", null));
    rows.add(request("fork sub-offset huge", "PUT", newStream + n++,
        "Stream-Forked-From: " + TEXT + "\r\nStream-Fork-Offset: 0000000000000000_0000000000000000\r\n"
            + "Stream-Fork-Sub-Offset: 2147483647\r\n", null));
    rows.add(raw("Content-Length negative", "POST " + TEXT + " HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        + "Content-Length: -5\r\nConnection: close\r\n\r\nabc"));
    rows.add(raw("Content-Length overflow", "POST " + TEXT + " HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        + "Content-Length: 99999999999999999999999\r\nConnection: close\r\n\r\nabc"));
    rows.add(raw("two Content-Length headers", "POST " + TEXT + " HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        + "Content-Length: 3\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde"));
    rows.add(raw("Content-Length announcing 4 MiB", "POST " + TEXT + " HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        + "Content-Length: 4194304\r\nConnection: close\r\n\r\nabc"));
    rows.add(raw("Expect 100-continue over the limit", "POST " + TEXT + " HTTP/1.1\r\nHost: t\r\n"
        + "Content-Type: text/plain\r\nExpect: 100-continue\r\nContent-Length: 33554432\r\nConnection: close\r\n\r\n"));
    // Broken chunked framing cannot be resynchronised: the codec closes the connection.
    rows.add(new Raw("chunked with a bad chunk size", ("POST " + TEXT + " HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1), true));
    rows.add(new Raw("chunked with an enormous chunk size", ("POST " + TEXT + " HTTP/1.1\r\nHost: t\r\n"
        + "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nFFFFFFFFFFFF\r\nabc")
        .getBytes(StandardCharsets.ISO_8859_1), true));
    rows.add(raw("Transfer-Encoding gzip", "POST " + TEXT + " HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        + "Transfer-Encoding: gzip\r\nConnection: close\r\n\r\nabc"));
    // --- bodies
    rows.add(request("JSON in UTF-16", "POST", JSON, "Content-Type: application/json\r\n", utf16("\"a\"")));
    rows.add(request("JSON array in UTF-16 with BOM", "POST", JSON, "Content-Type: application/json\r\n", "\u00ff\u00fe" + utf16("[1]")));
    rows.add(request("JSON with a NUL", "POST", JSON, "Content-Type: application/json\r\n", "[1,\u0000]"));
    rows.add(request("JSON with invalid UTF-8", "POST", JSON, "Content-Type: application/json\r\n", "\"\u00c3\""));
    rows.add(request("JSON nested 100000 deep", "POST", JSON, "Content-Type: application/json\r\n",
        "[".repeat(30_000) + "]".repeat(30_000)));
    rows.add(request("JSON number 1e999999 (valid JSON, kept as sent)", "POST", SCRATCH, "Content-Type: application/json\r\n",
        "1e999999"));
    rows.add(request("JSON empty array", "POST", JSON, "Content-Type: application/json\r\n", "[]"));
    rows.add(request("JSON trailing garbage", "POST", JSON, "Content-Type: application/json\r\n", "[1] x"));
    rows.add(request("append without a body", "POST", TEXT, "Content-Type: text/plain\r\n", ""));
    rows.add(request("append without a content type", "POST", TEXT, "", "x"));
    rows.add(request("append with another content type", "POST", TEXT, "Content-Type: application/json\r\n", "1"));
    rows.add(request("append to a session stream", "POST", "/v1/stream/sessions/" + sessionId,
        "Content-Type: application/json\r\nAuthorization: Bearer " + sessionToken + "\r\n", "{}"));
    rows.add(request("delete a session stream", "DELETE", "/v1/stream/sessions/" + sessionId,
        "Authorization: Bearer " + sessionToken + "\r\n", null));
    rows.add(request("session create with an array", "POST", "/v1/sessions", "Authorization: Bearer hostile-key\r\n", "[1]"));
    rows.add(request("session create with a long device", "POST", "/v1/sessions", "Authorization: Bearer hostile-key\r\n",
        "{\"device\":\"" + "d".repeat(5000) + "\"}"));
    rows.add(request("session create with a bad idempotency key", "POST", "/v1/sessions",
        "Authorization: Bearer hostile-key\r\nIdempotency-Key: short\r\n", "{}"));
    rows.add(request("message with a non-string text", "POST", "/v1/sessions/" + sessionId + "/messages",
        "Authorization: Bearer " + sessionToken + "\r\n", "{\"text\":{\"a\":1}}"));
    rows.add(request("tokens with a string ttl", "POST", "/v1/sessions/" + sessionId + "/tokens",
        "Authorization: Bearer " + sessionToken + "\r\n", "{\"ttlSeconds\":\"forever\"}"));
    rows.add(request("tokens with a fractional ttl", "POST", "/v1/tokens", "Authorization: Bearer hostile-key\r\n",
        "{\"stream\":\"hostile-text\",\"ttlSeconds\":1.5}"));
    rows.add(request("stream token for a session stream", "POST", "/v1/tokens", "Authorization: Bearer hostile-key\r\n",
        "{\"stream\":\"sessions/" + sessionId + "\"}"));
    rows.add(request("a forged token", "GET", "/v1/sessions/" + sessionId,
        "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\r\n", null));
    rows.add(request("a tool call id of 3000 characters", "POST",
        "/v1/sessions/" + sessionId + "/tools/" + "c".repeat(3000) + "/approve", "Authorization: Bearer " + sessionToken + "\r\n", ""));
    // --- methods
    for (String method : List.of("PATCH", "TRACE", "FOO", "get", "PROPFIND")) {
      rows.add(request("method " + method, method, TEXT, "", null));
    }
    rows.add(raw("CONNECT", "CONNECT tether:443 HTTP/1.1\r\nHost: tether\r\nConnection: close\r\n\r\n"));
    rows.add(request("OPTIONS with a foreign preflight", "OPTIONS", TEXT,
        "Origin: http://evil.example\r\nAccess-Control-Request-Method: DELETE\r\n", null));
    // --- raw HTTP the parser refuses
    rows.add(new Raw("garbage", "GARBAGE\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), true));
    rows.add(new Raw("request line without a version", "GET /health/live\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), true));
    rows.add(new Raw("header without a colon", ("GET " + TEXT + " HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1), true));
    rows.add(new Raw("a 20 KiB header", ("GET " + TEXT + " HTTP/1.1\r\nHost: t\r\nX-Big: " + "x".repeat(20_000) + "\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1), true));
    rows.add(new Raw("a 10 KiB URI", ("GET " + TEXT + "?" + "q".repeat(10_000) + " HTTP/1.1\r\nHost: t\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1), true));
    rows.add(new Raw("NUL bytes in the request line", ("GET /v1/stream/a\u0000b HTTP/1.1\r\nHost: t\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1), true));
    rows.add(request("non-ASCII path bytes", "GET", "/v1/stream/\u00ff\u00fe", "", null));
    rows.add(request("a lone percent", "GET", "/v1/stream/%", "", null));
    rows.add(request("a bad escape", "GET", "/v1/stream/%ZZ", "", null));
    rows.add(request("a session stream by an encoded slash", "GET", "/v1/stream/sessions%2F" + sessionId + "?offset=-1", "", null));
    rows.add(request("absolute-form target", "GET", "http://tether" + TEXT + "?offset=-1", "", null));
    rows.add(request("dot segments to a session", "GET", "/v1/stream/x/../sessions/" + sessionId + "?offset=-1", "", null));
    rows.add(request("a WebSocket upgrade without a key", "GET", TEXT + "?offset=-1&live=ws",
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", null));
    rows.add(request("a WebSocket upgrade with a bad version", "GET", TEXT + "?offset=-1&live=ws",
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", null));
    return rows.stream();
  }

  /**
   * The one 5xx an unauthenticated client can draw, and why it is not an internal error: a request line
   * naming a protocol version other than HTTP/1.0 or 1.1 is answered by Vert.x's HTTP/1 codec itself
   * with {@code 501} and the connection closed, before any handler of this node runs (RFC 9110 names a
   * 5xx for it; {@code 505} would be the precise one). It costs the node nothing and the node goes on
   * serving, which the check after every row confirms.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"HTTP/2.0", "HTTP/0.9", "HTTP/1.2"})
  void anUnsupportedProtocolVersionIsRefusedByTheHttpCodec(String version) throws Exception {
    RawHttp.Answer answer = RawHttp.exchange(node.httpPort(),
        ("GET /health/live " + version + "\r\nHost: t\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1), Duration.ofSeconds(10));
    assertThat(answer.status()).isEqualTo(501);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("httpRows")
  void noHostileRequestDrawsAnInternalError(Raw row) throws Exception {
    RawHttp.Answer answer = RawHttp.exchange(node.httpPort(), row.bytes(), Duration.ofSeconds(15));
    if (answer.status() < 0) {
      assertThat(row.mayCloseSilently()).as("%s: closed without an answer", row.name()).isTrue();
      return;
    }
    assertThat(answer.status()).as("%s answered %s", row.name(), answer.head())
        .satisfiesAnyOf(s -> assertThat(s).isLessThan(500), s -> assertThat(s).isEqualTo(503));
  }

  /** One hostile WebSocket interaction on the text stream, and what the socket must still do after it. */
  record Frames(String name, Consumer<io.vertx.core.http.WebSocket> send) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Frames> webSocketRows() {
    return Stream.of(
        new Frames("binary frame", s -> s.writeBinaryMessage(Buffer.buffer(new byte[] {1, 2, 3}))),
        new Frames("text that is not JSON", s -> s.writeTextMessage("{not json")),
        new Frames("a JSON array", s -> s.writeTextMessage("[1,2]")),
        new Frames("a JSON string", s -> s.writeTextMessage("\"append\"")),
        new Frames("append without data", s -> s.writeTextMessage("{\"type\":\"append\",\"id\":1}")),
        new Frames("append with object data on a text stream", s -> s.writeTextMessage(
            "{\"type\":\"append\",\"id\":1,\"data\":{\"a\":1}}")),
        new Frames("append with bad base64", s -> s.writeTextMessage(
            "{\"type\":\"append\",\"id\":1,\"data\":\"%%%\",\"encoding\":\"base64\",\"contentType\":\"application/octet-stream\"}")),
        new Frames("append with a 300-byte producer id", s -> s.writeTextMessage(new JsonObject().put("type", "append")
            .put("id", 1).put("data", "x").put("producer", new JsonObject().put("id", "p".repeat(300)).put("epoch", 0)
                .put("seq", 0)).encode())),
        new Frames("append with a negative producer seq", s -> s.writeTextMessage(new JsonObject().put("type", "append")
            .put("id", 1).put("data", "x").put("producer", new JsonObject().put("id", "p").put("epoch", 0).put("seq", -1))
            .encode())),
        new Frames("append with a string producer", s -> s.writeTextMessage(
            "{\"type\":\"append\",\"id\":1,\"data\":\"x\",\"producer\":\"p\"}")),
        new Frames("append of another content type", s -> s.writeTextMessage(
            "{\"type\":\"append\",\"id\":1,\"data\":[1],\"contentType\":\"application/json\"}")),
        new Frames("append over the size limit", s -> s.writeTextMessage(new JsonObject().put("type", "append")
            .put("id", 1).put("data", "x".repeat(MAX_APPEND + 1)).encode())),
        new Frames("a command on a plain stream", s -> s.writeTextMessage(
            "{\"type\":\"command\",\"id\":1,\"command\":{\"type\":\"stop\"}}")),
        new Frames("an unknown frame type", s -> s.writeTextMessage("{\"type\":\"explode\"}")),
        new Frames("a ping frame with a payload", s -> s.writeFrame(WebSocketFrame.pingFrame(Buffer.buffer("abc")))),
        new Frames("a fragmented message", s -> {
          s.writeFrame(WebSocketFrame.textFrame("{\"type\":", false));
          s.writeFrame(WebSocketFrame.continuationFrame(Buffer.buffer("\"ping\",\"id\":7}"), true));
        }),
        new Frames("a hundred appends at once", s -> {
          for (int i = 0; i < 100; i++) {
            s.writeTextMessage("{\"type\":\"append\",\"id\":" + i + ",\"data\":{\"bad\":true}}");
          }
        }));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("webSocketRows")
  void noHostileFrameDrawsAnInternalErrorOrBreaksTheSocket(Frames row) {
    try (WsReader ws = http.ws(TEXT + "?offset=now&live=ws")) {
      await().atMost(Duration.ofSeconds(10)).until(() -> !ws.frames("control").isEmpty());
      row.send().accept(ws.socket());
      ws.send(new JsonObject().put("type", "ping").put("id", "after"));
      await().atMost(Duration.ofSeconds(10)).until(() -> ws.frames("pong").stream()
          .anyMatch(f -> "after".equals(f.getString("id"))) || ws.closeStatus() != null);
      for (JsonObject error : ws.frames("error")) {
        assertThat(error.getInteger("status")).as(error.encode())
            .satisfiesAnyOf(s -> assertThat(s).isLessThan(500), s -> assertThat(s).isEqualTo(503));
      }
      if (ws.closeStatus() != null) {
        // A socket may be closed for a protocol violation (an oversized frame), never for an internal error.
        assertThat(ws.closeStatus()).as(ws.closeReason()).isNotEqualTo((short) 1011);
      } else {
        assertThat(ws.frames("ack")).as("no hostile append was acknowledged").isEmpty();
      }
    }
  }

  /** The raw client reads real statuses (so a 5xx would be seen as one). */
  @org.junit.jupiter.api.Test
  void theRawClientReadsTheStatusOfAnAnswer() throws Exception {
    assertThat(RawHttp.exchange(node.httpPort(),
        "GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1),
        Duration.ofSeconds(10)).status()).isEqualTo(200);
    assertThat(RawHttp.exchange(node.httpPort(),
        "GET /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1),
        Duration.ofSeconds(10)).status()).isEqualTo(404);
  }
}
