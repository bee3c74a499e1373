package io.tether.transport;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.RawHttp;
import io.tether.support.SseReader;
import io.tether.support.TestNodes;
import io.tether.support.WsReader;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

import static io.tether.support.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * One test per row of {@code docs/errors.md}. After every test the node must hold no live connection
 * and still answer: no refusal may leak a connection or break the node.
 */
class ErrorsIT {

  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final int MAX_APPEND = 65_536;

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of(
        "TETHER_MAX_APPEND_BYTES", Integer.toString(MAX_APPEND),
        "TETHER_RING_MAX_BYTES", Integer.toString(64 << 20),
        "TETHER_RING_MAX_EVENTS", "4",
        "TETHER_MAX_CONNECTIONS", "3",
        "TETHER_ADMIN_TOKEN", "s3cret",
        "TETHER_REQUEST_TIMEOUT_MS", "200",
        "TETHER_ROUTE_DEADLINE_MS", "600"));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    http.close();
    TestNodes.stop(node);
  }

  @AfterEach
  void nodeIsStillHealthyAndHoldsNoConnection() {
    await().atMost(DEADLINE).until(() -> node.services().metrics().totalConnections() == 0);
    assertThat(http.get("/health/ready").status()).isEqualTo(200);
  }

  private static String path() {
    return "/v1/stream/errors-" + UUID.randomUUID();
  }

  private static String created(String contentType, String body) {
    String p = path();
    assertThat(http.put(p, contentType, body).status()).isEqualTo(201);
    return p;
  }

  private static void refused(Resp resp, int status, String code) {
    assertThat(resp.status()).as(resp.body()).isEqualTo(status);
    assertThat(resp.header("Content-Type")).isEqualTo("application/json");
    assertThat(resp.errorCode()).isEqualTo(code);
    assertThat(resp.json().getJsonObject("error").getString("message")).isNotBlank();
    assertThat(resp.header("X-Content-Type-Options")).isEqualTo("nosniff");
  }

  private static Resp request(HttpMethod method, String path, Map<String, String> headers, String body) {
    return http.request(method, path, headers, body == null ? null : body.getBytes(StandardCharsets.UTF_8));
  }

  // ------------------------------------------------------------------------------------------ 400

  @ParameterizedTest
  @ValueSource(strings = {"/v1/stream/", "/v1/stream/a/../b", "/v1/stream/a//b", "/v1/stream/sp%20ace",
      "/v1/stream/x?y", "/v1/stream/tilde~ok/but*star"})
  void invalidStreamName(String badPath) {
    String p = badPath.replace("?", "%3F");
    refused(http.put(p, "text/plain", null), 400, "invalid_stream_name");
  }

  @Test
  void streamNameLongerThan256() {
    refused(http.put("/v1/stream/" + "a".repeat(257), "text/plain", null), 400, "invalid_stream_name");
  }

  @ParameterizedTest
  @ValueSource(strings = {"?offset=abc", "?offset=", "?offset=-1&offset=now", "?offset=0,1",
      "?offset=0000000000000000_000000000000000x"})
  void invalidOffset(String query) {
    refused(http.get(created("text/plain", "x") + query), 400, "invalid_offset");
  }

  @Test
  void offsetBeyondTail() {
    refused(http.get(created("text/plain", "x") + "?offset=0000000000000002_0000000000000000"), 400,
        "offset_beyond_tail");
  }

  @ParameterizedTest
  @ValueSource(strings = {"long-poll", "sse", "ws"})
  void missingOffsetOnLiveReads(String mode) {
    refused(http.get(created("text/plain", "x") + "?live=" + mode), 400, "missing_offset");
  }

  @Test
  void invalidLiveMode() {
    refused(http.get(created("text/plain", "x") + "?live=push&offset=-1"), 400, "invalid_live_mode");
  }

  @Test
  void invalidHeaders() {
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-TTL", "1e3"), null), 400, "invalid_header");
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-TTL", "-5"), null), 400, "invalid_header");
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-Expires-At", "tomorrow"), null), 400, "invalid_header");
    String p = created("text/plain", null);
    refused(request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p",
        "Producer-Epoch", "01", "Producer-Seq", "0"), "x"), 400, "invalid_header");
    refused(request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p",
        "Producer-Epoch", "0", "Producer-Seq", "9007199254740992"), "x"), 400, "invalid_header");
  }

  @Test
  void invalidForkOffset() {
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-Forked-From", created("text/plain", "x"),
        "Stream-Fork-Offset", "12,3"), null), 400, "invalid_offset");
  }

  @Test
  void nonNumericContentLengthIsRefusedOnARawConnection() throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", node.httpPort())) {
      socket.setSoTimeout(10_000);
      String request = "POST " + created("text/plain", null) + " HTTP/1.1\r\nHost: x\r\n"
          + "Content-Type: text/plain\r\nContent-Length: lots\r\n\r\nabc";
      socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      String status = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
          StandardCharsets.US_ASCII)).readLine();
      assertThat(status).startsWith("HTTP/1.1 400");
    }
  }

  @Test
  void conflictingExpiry() {
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-TTL", "60", "Stream-Expires-At", "2030-01-01T00:00:00Z"),
        null), 400, "conflicting_expiry");
  }

  @Test
  void invalidContentType() {
    refused(http.put(path(), "nonsense", null), 400, "invalid_content_type");
  }

  @Test
  void missingContentType() {
    refused(request(HttpMethod.POST, created("text/plain", null), Map.of(), "data"), 400, "missing_content_type");
  }

  @Test
  void emptyBody() {
    refused(http.post(created("text/plain", null), "text/plain", ""), 400, "empty_body");
  }

  @Test
  void invalidJson() {
    refused(http.put(path(), "application/json", "{not json"), 400, "invalid_json");
    refused(http.post(created("application/json", null), "application/json", "[1, 2"), 400, "invalid_json");
  }

  @Test
  void emptyJsonArray() {
    refused(http.post(created("application/json", null), "application/json", "[]"), 400, "empty_json_array");
  }

  @Test
  void invalidProducer() {
    String p = created("text/plain", null);
    refused(request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p"), "x"), 400,
        "invalid_producer");
    refused(request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "",
        "Producer-Epoch", "0", "Producer-Seq", "0"), "x"), 400, "invalid_producer");
  }

  /** Every stream remembers its producers' ids: one id is at most 256 bytes, over HTTP and WebSocket. */
  @Test
  void producerIdsAreAtMost256Bytes() {
    String p = created("text/plain", null);
    Map<String, String> producer = Map.of("Content-Type", "text/plain", "Producer-Epoch", "0", "Producer-Seq", "0");
    Map<String, String> longest = new HashMap<>(producer);
    longest.put("Producer-Id", "p".repeat(256));
    assertThat(request(HttpMethod.POST, p, longest, "x").status()).isEqualTo(200);
    Map<String, String> tooLong = new HashMap<>(producer);
    tooLong.put("Producer-Id", "p".repeat(257));
    refused(request(HttpMethod.POST, p, tooLong, "x"), 400, "invalid_producer");
    try (WsReader ws = http.ws(p + "?offset=now&live=ws")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      ws.send(new JsonObject().put("type", "append").put("id", 1).put("data", "y")
          .put("producer", new JsonObject().put("id", "q".repeat(257)).put("epoch", 0).put("seq", 0)));
      await().atMost(DEADLINE).until(() -> !ws.frames("error").isEmpty());
      assertThat(ws.frames("error").get(0).getString("code")).isEqualTo("invalid_producer");
    }
    assertThat(http.get(p + "?offset=-1").body()).isEqualTo("x");
  }

  @Test
  void badRequestFromStreamState() {
    String p = created("text/plain", "hello");
    assertThat(request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p",
        "Producer-Epoch", "0", "Producer-Seq", "0"), "w").status()).isEqualTo(200);
    refused(request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p",
        "Producer-Epoch", "3", "Producer-Seq", "1"), "x"), 400, "bad_request");
    // A producer the stream does not know sends from 0 (409, as from the reference server; not 400).
    Resp unknown = request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "new",
        "Producer-Epoch", "0", "Producer-Seq", "2"), "y");
    refused(unknown, 409, "producer_sequence_gap");
    assertThat(unknown.header("Producer-Expected-Seq")).isEqualTo("0");
    assertThat(unknown.header("Producer-Received-Seq")).isEqualTo("2");
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-Forked-From", p,
        "Stream-Fork-Offset", "0000000000000009_0000000000000000"), null), 400, "bad_request");
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-Forked-From", p,
        "Stream-Fork-Offset", "0000000000000000_0000000000000000", "Stream-Fork-Sub-Offset", "6"), null), 400,
        "bad_request");
  }

  @Test
  void invalidFork() {
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-Fork-Offset", "0000000000000000_0000000000000000"), null),
        400, "invalid_fork");
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-Forked-From", created("text/plain", "x"),
        "Stream-Fork-Sub-Offset", "1"), null), 400, "invalid_fork");
  }

  // ------------------------------------------------------------------------------------------ 401 / 403

  @Test
  void adminNeedsTheToken() {
    String p = created("text/plain", "x");
    String admin = p.replace("/v1/stream/", "/v1/admin/streams/");
    Resp missing = http.get(admin);
    refused(missing, 401, "unauthorized");
    assertThat(missing.header("WWW-Authenticate")).isEqualTo("Bearer");
    refused(http.get(admin, Map.of("Authorization", "Bearer wrong")), 403, "forbidden");
    Resp ok = http.get(admin, Map.of("Authorization", "Bearer s3cret"));
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.json().getJsonObject("owner").getString("nodeId")).isEqualTo(node.nodeId());

    refused(http.get("/v1/admin/cluster"), 401, "unauthorized");
    refused(http.get("/v1/admin/cluster", Map.of("Authorization", "Bearer wrong")), 403, "forbidden");
    assertThat(http.get("/v1/admin/cluster", Map.of("Authorization", "Bearer s3cret")).status()).isEqualTo(200);
  }

  @Test
  void producerFenced() {
    String p = created("text/plain", null);
    request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p", "Producer-Epoch", "2",
        "Producer-Seq", "0"), "a");
    Resp zombie = request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p",
        "Producer-Epoch", "1", "Producer-Seq", "7"), "z");
    refused(zombie, 403, "producer_fenced");
    assertThat(zombie.header("Producer-Epoch")).isEqualTo("2");
  }

  // ------------------------------------------------------------------------------------------ 404 / 405

  @Test
  void streamNotFoundOnEveryOperation() {
    String p = path();
    refused(http.get(p), 404, "stream_not_found");
    refused(http.post(p, "text/plain", "x"), 404, "stream_not_found");
    refused(http.delete(p), 404, "stream_not_found");
    refused(http.get(p + "?live=long-poll&offset=-1"), 404, "stream_not_found");
    refused(http.get(p + "?live=sse&offset=-1"), 404, "stream_not_found");
    assertThat(http.head(p).status()).isEqualTo(404);
    refused(http.get(p.replace("/v1/stream/", "/v1/admin/streams/"), Map.of("Authorization", "Bearer s3cret")), 404,
        "stream_not_found");
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-Forked-From", p), null), 404, "stream_not_found");
  }

  @Test
  void unknownEndpoint() {
    refused(http.get("/v2/nothing"), 404, "not_found");
  }

  @Test
  void methodNotAllowed() {
    Resp resp = request(HttpMethod.PATCH, created("text/plain", "x"), Map.of(), null);
    refused(resp, 405, "method_not_allowed");
    assertThat(resp.header("Allow")).contains("PUT");
  }

  // ------------------------------------------------------------------------------------------ 409

  @Test
  void streamConflict() {
    String p = created("text/plain", null);
    refused(http.put(p, "application/json", null), 409, "stream_conflict");
    refused(request(HttpMethod.PUT, p, Map.of("Content-Type", "text/plain", "Stream-TTL", "60"), null), 409,
        "stream_conflict");
  }

  @Test
  void streamClosed() {
    String p = created("text/plain", "x");
    String tail = request(HttpMethod.POST, p, Map.of("Stream-Closed", "true"), "").header("Stream-Next-Offset");
    Resp resp = http.post(p, "text/plain", "late");
    refused(resp, 409, "stream_closed");
    assertThat(resp.header("Stream-Closed")).isEqualTo("true");
    assertThat(resp.header("Stream-Next-Offset")).isEqualTo(tail);
  }

  @Test
  void contentTypeMismatch() {
    refused(http.post(created("text/plain", null), "application/json", "{}"), 409, "content_type_mismatch");
    String json = created("application/json", "[1]");
    refused(request(HttpMethod.PUT, path(), Map.of("Stream-Forked-From", json, "Content-Type", "text/plain"), null),
        409, "content_type_mismatch");
  }

  @Test
  void sequenceConflict() {
    String p = created("text/plain", null);
    request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Stream-Seq", "b"), "1");
    refused(request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Stream-Seq", "a"), "2"), 409,
        "sequence_conflict");
  }

  @Test
  void producerSequenceGap() {
    String p = created("text/plain", null);
    request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p", "Producer-Epoch", "0",
        "Producer-Seq", "0"), "a");
    Resp gap = request(HttpMethod.POST, p, Map.of("Content-Type", "text/plain", "Producer-Id", "p",
        "Producer-Epoch", "0", "Producer-Seq", "5"), "f");
    refused(gap, 409, "producer_sequence_gap");
    assertThat(gap.header("Producer-Expected-Seq")).isEqualTo("1");
    assertThat(gap.header("Producer-Received-Seq")).isEqualTo("5");
  }

  // ------------------------------------------------------------------------------------------ 410

  @Test
  void streamDeletedWhileForksReferenceIt() {
    String source = created("text/plain", "x");
    assertThat(request(HttpMethod.PUT, path(), Map.of("Stream-Forked-From", source), null).status()).isEqualTo(201);
    assertThat(http.delete(source).status()).isEqualTo(204);
    refused(http.get(source), 410, "stream_deleted");
    refused(http.post(source, "text/plain", "y"), 410, "stream_deleted");
    refused(http.delete(source), 410, "stream_deleted");
    assertThat(http.head(source).status()).isEqualTo(410);
    refused(http.put(source, "text/plain", null), 409, "stream_conflict");
  }

  @Test
  void offsetGone() {
    String p = created("text/plain", null);
    String first = http.post(p, "text/plain", "0").header("Stream-Next-Offset");
    for (int i = 1; i < 6; i++) {
      http.post(p, "text/plain", "" + i);
    }
    Resp gone = http.get(p + "?offset=" + first);
    refused(gone, 410, "offset_gone");
    assertThat(gone.header("Stream-Earliest-Offset")).isNotNull();
  }

  // ------------------------------------------------------------------------------------------ 413

  @Test
  void payloadTooLargeIsAnsweredAfterDrainingTheBody() {
    String p = created("application/octet-stream", null);
    Resp resp = http.request(HttpMethod.POST, p, Map.of("Content-Type", "application/octet-stream"),
        new byte[MAX_APPEND + 1]);
    refused(resp, 413, "payload_too_large");
    assertThat(http.post(p, "application/octet-stream", "still works").status()).isEqualTo(204);
  }

  @Test
  void payloadTooLargeWithChunkedBody() {
    String p = created("text/plain", null);
    HttpClient client = http.vertx().createHttpClient();
    Resp resp = result(client.request(new RequestOptions().setPort(node.httpPort()).setHost("127.0.0.1")
            .setMethod(HttpMethod.POST).setURI(p).putHeader("Content-Type", "text/plain"))
        .compose(req -> {
          req.setChunked(true);
          for (int i = 0; i < 5; i++) {
            req.write(Buffer.buffer(new byte[20_000]));
          }
          return req.end().compose(v -> req.response());
        })
        .compose(res -> res.body().map(b -> new Resp(res.statusCode(), res.headers(), b.getBytes()))));
    refused(resp, 413, "payload_too_large");
  }

  // ------------------------------------------------------------------------------------------ 5xx

  @Test
  void internalErrorWhenTheOwnerFails() {
    String name = "errors-failing-owner-" + UUID.randomUUID();
    MessageConsumer<Object> failing = node.vertx().eventBus().consumer("tether.stream." + name,
        msg -> msg.fail(500, "owner exploded"));
    result(failing.completion());
    try {
      refused(http.get("/v1/stream/" + name), 500, "internal_error");
    } finally {
      result(failing.unregister());
    }
  }

  @Test
  void clusterUnavailableAndOutcomeUnknownWhenTheOwnerIsSilent() throws Exception {
    String p = created("text/plain", null);
    String name = p.substring("/v1/stream/".length());
    // Hold the partition thread of the stream's key: its owner can no longer answer anything.
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    com.hazelcast.map.IMap<String, Object> streams = node.hazelcast().getMap("tether.streams");
    var blocker = streams.submitToKey(name, entry -> {
      try {
        release.await(30, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return null;
    });
    try {
      Resp read = http.get(p);
      refused(read, 503, "cluster_unavailable");
      assertThat(read.header("Retry-After")).isEqualTo("1");
      refused(http.post(p, "text/plain", "x"), 503, "outcome_unknown");
    } finally {
      release.countDown();
      blocker.toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  void aSilentRegistrationIsBypassedThroughThePartitionsNode() {
    String name = "errors-silent-owner-" + UUID.randomUUID();
    MessageConsumer<Object> silent = node.vertx().eventBus().consumer("tether.stream." + name, msg -> { });
    result(silent.completion());
    try {
      // The read is retried through the node holding the partition, which knows the stream does not exist.
      refused(http.get("/v1/stream/" + name), 404, "stream_not_found");
      // An append without producer headers is not retried: it may have been applied.
      refused(http.post("/v1/stream/" + name, "text/plain", "x"), 503, "outcome_unknown");
    } finally {
      result(silent.unregister());
    }
  }

  @Test
  void tooManyConnections() {
    String p = created("text/plain", null);
    try (SseReader a = http.sse(p + "?live=sse&offset=now");
         SseReader b = http.sse(p + "?live=sse&offset=now");
         SseReader c = http.sse(p + "?live=sse&offset=now")) {
      assertThat(a.status()).isEqualTo(200);
      await().atMost(DEADLINE).until(() -> node.services().metrics().totalConnections() == 3);
      Resp refusedConnection = http.get(p + "?live=long-poll&offset=now");
      refused(refusedConnection, 503, "too_many_connections");
      assertThat(b.status() + c.status()).isEqualTo(400);
    }
  }

  // ------------------------------------------------------------------------------------------ WebSocket

  @Test
  void webSocketInvalidFramesAreAnsweredAndTheSocketStaysOpen() {
    String p = created("text/plain", null);
    try (WsReader ws = http.ws(p + "?live=ws&offset=now")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      ws.sendText("not json");
      ws.send(new JsonObject().put("type", "subscribe").put("id", 1));
      ws.send(new JsonObject().put("type", "append").put("id", 2).put("data", 42));
      ws.send(new JsonObject().put("type", "append").put("id", 3).put("data", "%%%").put("encoding", "base64"));
      result(ws.socket().writeBinaryMessage(Buffer.buffer(new byte[] {1, 2})));
      await().atMost(DEADLINE).until(() -> ws.frames("error").size() == 5);
      assertThat(ws.frames("error")).allSatisfy(f -> {
        assertThat(f.getInteger("status")).isEqualTo(400);
        assertThat(f.getString("code")).isEqualTo("invalid_frame");
      });
      ws.send(new JsonObject().put("type", "append").put("id", 4).put("data", "fine"));
      await().atMost(DEADLINE).until(() -> ws.frames("ack").size() == 1);
      assertThat(ws.closeStatus()).isNull();
    }
  }

  @Test
  void webSocketRefusedAppendsAreErrorFrames() {
    String p = created("text/plain", null);
    request(HttpMethod.POST, p, Map.of("Stream-Closed", "true"), "");
    try (WsReader ws = http.ws(p + "?live=ws&offset=-1")) {
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 1000);
    }
    String open = created("text/plain", null);
    try (WsReader ws = http.ws(open + "?live=ws&offset=now")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      ws.send(new JsonObject().put("type", "append").put("id", "big").put("data", "x".repeat(MAX_APPEND + 1)));
      ws.send(new JsonObject().put("type", "append").put("id", "json").put("data", "{}")
          .put("contentType", "application/json"));
      await().atMost(DEADLINE).until(() -> ws.frames("error").size() == 2);
      Map<String, String> codes = new HashMap<>();
      ws.frames("error").forEach(f -> codes.put(f.getString("id"), f.getString("code")));
      assertThat(codes).containsEntry("big", "payload_too_large").containsEntry("json", "content_type_mismatch");
    }
  }

  @Test
  void webSocketReadRefusalsCloseWithCodes() {
    try (WsReader ws = http.ws(path() + "?live=ws&offset=-1")) {
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 4404);
      assertThat(ws.frames("error").get(0).getString("code")).isEqualTo("stream_not_found");
    }
    String p = created("text/plain", null);
    String first = http.post(p, "text/plain", "0").header("Stream-Next-Offset");
    for (int i = 1; i < 6; i++) {
      http.post(p, "text/plain", "" + i);
    }
    try (WsReader ws = http.ws(p + "?live=ws&offset=" + first)) {
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 4410);
    }
    try (WsReader ws = http.ws(p + "?live=ws&offset=0000000000000099_0000000000000000")) {
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 4400);
    }
  }

  @Test
  void webSocketOnADeletedForkSourceCloses4410() {
    String source = created("text/plain", "x");
    assertThat(request(HttpMethod.PUT, path(), Map.of("Stream-Forked-From", source), null).status()).isEqualTo(201);
    assertThat(http.delete(source).status()).isEqualTo(204);
    try (WsReader ws = http.ws(source + "?live=ws&offset=-1")) {
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 4410);
      assertThat(ws.frames("error").get(0).getString("code")).isEqualTo("stream_deleted");
    }
  }

  @Test
  void webSocketIsClosedWhenTheStreamIsDeleted() {
    String p = created("text/plain", "x");
    try (WsReader ws = http.ws(p + "?live=ws&offset=-1")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      assertThat(http.delete(p).status()).isEqualTo(204);
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 4404);
    }
  }

  @Test
  void webSocketFrameTooLargeCloses1009() {
    String p = created("text/plain", null);
    try (WsReader ws = http.ws(p + "?live=ws&offset=now")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      ws.socket().writeTextMessage("x".repeat(MAX_APPEND * 2 + 70_000));
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      // The server answers 1009 and drops the connection; a client still sending sees the reset (1006).
      assertThat(ws.closeStatus()).isIn((short) 1009, (short) 1006);
    }
  }

  /** A message may come in fragments (RFC 6455 5.4): they are joined, and bounded together. */
  @Test
  void webSocketFragmentedMessagesAreJoinedAndBounded() {
    String p = created("text/plain", null);
    try (WsReader ws = http.ws(p + "?live=ws&offset=now")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      String append = new JsonObject().put("type", "append").put("id", 1).put("data", "joined").encode();
      int half = append.length() / 2;
      result(ws.socket().writeFrame(io.vertx.core.http.WebSocketFrame.textFrame(append.substring(0, half), false)));
      result(ws.socket().writeFrame(io.vertx.core.http.WebSocketFrame.continuationFrame(
          Buffer.buffer(append.substring(half)), true)));
      await().atMost(DEADLINE).until(() -> ws.frames("ack").size() == 1);
      assertThat(http.get(p + "?offset=-1").body()).isEqualTo("joined");
      // Each fragment is within the frame bound; together they are not.
      String piece = "x".repeat(MAX_APPEND + 40_000);
      result(ws.socket().writeFrame(io.vertx.core.http.WebSocketFrame.textFrame(piece, false)));
      ws.socket().writeFrame(io.vertx.core.http.WebSocketFrame.continuationFrame(Buffer.buffer(piece), false));
      ws.socket().writeFrame(io.vertx.core.http.WebSocketFrame.continuationFrame(Buffer.buffer(piece), true));
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isIn((short) 1009, (short) 1006);
    }
  }

  @Test
  void webSocketUpgradeRefusalsAreJsonErrors() throws Exception {
    String p = created("text/plain", null);
    // live=ws on a plain GET: not an upgrade.
    refused(http.get(p + "?live=ws&offset=now"), 400, "websocket_upgrade_required");
    String upgrade = "GET " + p + "?live=ws&offset=now HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\n";
    RawHttp.Answer noKey = RawHttp.exchange(node.httpPort(), (upgrade + "Sec-WebSocket-Version: 13\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII), DEADLINE);
    assertThat(noKey.status()).isEqualTo(400);
    assertThat(noKey.head()).contains("application/json");
    RawHttp.Answer oldVersion = RawHttp.exchange(node.httpPort(), (upgrade + "Sec-WebSocket-Version: 8\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").getBytes(StandardCharsets.US_ASCII), DEADLINE);
    assertThat(oldVersion.status()).isEqualTo(426);
    assertThat(oldVersion.head()).containsIgnoringCase("Sec-WebSocket-Version: 13");
    // "upgrade" inside another token is not the Upgrade token: the handshake itself refuses it.
    RawHttp.Answer notAToken = RawHttp.exchange(node.httpPort(), ("GET " + p + "?live=ws&offset=now HTTP/1.1\r\n"
        + "Host: t\r\nUpgrade: websocket\r\nConnection: noupgrade\r\nSec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").getBytes(StandardCharsets.US_ASCII), DEADLINE);
    assertThat(notAToken.status()).isEqualTo(400);
    assertThat(notAToken.head()).contains("application/json");
  }

  /** A close frame from the client is answered with its code, and the node lets the connection go. */
  @Test
  void webSocketClosedByTheClientIsAnsweredAndReleased() {
    String p = created("text/plain", null);
    try (WsReader ws = http.ws(p + "?live=ws&offset=now")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      assertThat(node.services().metrics().connections("websocket").get()).isEqualTo(1);
      result(ws.socket().close((short) 4000, "bye"));
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 4000);
      await().atMost(DEADLINE).until(() -> node.services().metrics().connections("websocket").get() == 0);
    }
  }

  /** Text frames are UTF-8 (RFC 6455 8.1): a frame that is not is a protocol error, closed with 1007. */
  @Test
  void webSocketTextThatIsNotUtf8Closes1007() throws Exception {
    String p = created("text/plain", null);
    try (java.net.Socket peer = new java.net.Socket("127.0.0.1", node.httpPort())) {
      peer.setSoTimeout((int) DEADLINE.toMillis());
      peer.getOutputStream().write(("GET " + p + "?offset=now&live=ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
          + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      java.io.InputStream in = peer.getInputStream();
      assertThat(RawHttp.readHead(in)).startsWith("HTTP/1.1 101");
      // One masked text frame (mask 0) whose payload, 0xC3 0x28, is not UTF-8.
      peer.getOutputStream().write(new byte[] {(byte) 0x81, (byte) 0x82, 0, 0, 0, 0, (byte) 0xC3, 0x28});
      int closeCode = -1;
      while (closeCode < 0) {
        int opcode = in.read();
        assertThat(opcode).as("the node sent a close frame before closing").isNotNegative();
        int length = in.read() & 0x7f;
        if (length == 126) {
          length = (in.read() << 8) | in.read();
        }
        byte[] payload = in.readNBytes(length);
        if ((opcode & 0x0f) == 0x8) {
          closeCode = ((payload[0] & 0xff) << 8) | (payload[1] & 0xff);
        }
      }
      assertThat(closeCode).isEqualTo(1007);
      assertThat(in.read()).as("the node closes the connection after its close frame").isEqualTo(-1);
    }
  }

  /**
   * A reader that stops reading is disconnected instead of buffered without bound; it resumes from the
   * last offset it received and gets the rest exactly once. (Whether it sees the 4429 close frame
   * depends on whether it reads again before the server drops the connection.)
   */
  @Test
  void slowConsumerIsCutLooseAndResumesFromItsOffset() {
    String p = created("application/octet-stream", null);
    byte[] chunk = new byte[MAX_APPEND];
    int appended = 0;
    String lastSeen;
    try (WsReader ws = http.ws(p + "?live=ws&offset=now")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      ws.socket().pause();
      while (appended < 400 && node.services().metrics().connections("websocket").get() > 0) {
        http.request(HttpMethod.POST, p, Map.of("Content-Type", "application/octet-stream"), chunk);
        appended++;
      }
      assertThat(node.services().metrics().connections("websocket").get()).isZero();
      ws.socket().resume();
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isIn((short) 4429, (short) 1006);
      lastSeen = ws.frames("data").isEmpty() ? "0000000000000000_0000000000000000"
          : ws.frames("data").get(ws.frames("data").size() - 1).getString("nextOffset");
    }
    int total = appended;
    try (WsReader resumed = http.ws(p + "?live=ws&offset=" + lastSeen)) {
      await().atMost(DEADLINE).until(() -> !resumed.frames("control").isEmpty()
          && resumed.frames("control").get(resumed.frames("control").size() - 1).getBoolean("upToDate"));
      String expectedTail = String.format("%016d_%016d", total, (long) total * MAX_APPEND);
      await().atMost(DEADLINE).until(() -> expectedTail.equals(
          resumed.frames("control").get(resumed.frames("control").size() - 1).getString("nextOffset")));
      long resumedFrom = Long.parseLong(lastSeen.substring(0, 16));
      assertThat(resumed.frames("data")).hasSize((int) (total - resumedFrom));
      if (resumedFrom < total) {
        assertThat(resumed.frames("data").get(0).getString("offset")).isEqualTo(lastSeen);
      }
    }
  }
}
