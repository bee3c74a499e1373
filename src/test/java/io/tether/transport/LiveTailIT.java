package io.tether.transport;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.SseReader;
import io.tether.support.TestNodes;
import io.tether.support.WsReader;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Replay then live tail on SSE, long-poll and WebSocket, with a 1-second heartbeat. */
class LiveTailIT {

  private static final Duration DEADLINE = Duration.ofSeconds(10);

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of("TETHER_HEARTBEAT_SECONDS", "1", "TETHER_LONG_POLL_SECONDS", "2"));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    http.close();
    TestNodes.stop(node);
  }

  private static String stream(String contentType, String initial) {
    String path = "/v1/stream/live-" + UUID.randomUUID();
    assertThat(http.put(path, contentType, initial).status()).isEqualTo(201);
    return path;
  }

  // ------------------------------------------------------------------------------------- SSE

  @Test
  void sseReplaysFromTheOffsetThenDeliversEachAppendOnceInOrder() {
    String path = stream("text/plain", "history;");
    String from = http.post(path, "text/plain", "seen;").header("Stream-Next-Offset");
    http.post(path, "text/plain", "missed;");
    try (SseReader sse = http.sse(path + "?live=sse&offset=" + from)) {
      assertThat(sse.status()).isEqualTo(200);
      assertThat(sse.header("Content-Type")).isEqualTo("text/event-stream");
      await().atMost(DEADLINE).until(() -> sse.lastControl() != null);
      assertThat(sse.lastControl().getBoolean("upToDate")).isTrue();
      for (int i = 0; i < 20; i++) {
        http.post(path, "text/plain", "e" + i + ";");
      }
      String expected = "missed;" + "e0;e1;e2;e3;e4;e5;e6;e7;e8;e9;e10;e11;e12;e13;e14;e15;e16;e17;e18;e19;";
      await().atMost(DEADLINE).until(() -> sse.data().length() >= expected.length());
      assertThat(sse.data()).isEqualTo(expected);
      String tail = http.head(path).header("Stream-Next-Offset");
      await().atMost(DEADLINE).until(() -> tail.equals(sse.lastControl().getString("streamNextOffset")));
    }
  }

  @Test
  void sseEndsWithStreamClosedAfterTheFinalAppend() {
    String path = stream("text/plain", null);
    try (SseReader sse = http.sse(path + "?live=sse&offset=now")) {
      await().atMost(DEADLINE).until(() -> sse.lastControl() != null);
      http.request(io.vertx.core.http.HttpMethod.POST, path,
          Map.of("Content-Type", "text/plain", "Stream-Closed", "true"), "bye".getBytes());
      await().atMost(DEADLINE).until(sse::ended);
      assertThat(sse.data()).isEqualTo("bye");
      assertThat(sse.lastControl().getBoolean("streamClosed")).isTrue();
      assertThat(sse.lastControl().containsKey("streamCursor")).isFalse();
    }
  }

  @Test
  void sseSendsHeartbeatCommentsWhileIdle() {
    String path = stream("text/plain", "x");
    try (SseReader sse = http.sse(path + "?live=sse&offset=now")) {
      await().atMost(DEADLINE).until(() -> sse.comments() >= 2);
      assertThat(sse.events("data")).isEmpty();
    }
  }

  @Test
  void sseEncodesBinaryStreamsAsBase64() {
    String path = "/v1/stream/live-bin-" + UUID.randomUUID();
    http.request(io.vertx.core.http.HttpMethod.PUT, path, Map.of("Content-Type", "application/octet-stream"),
        new byte[] {0, 10, 13, (byte) 255});
    try (SseReader sse = http.sse(path + "?live=sse&offset=-1")) {
      await().atMost(DEADLINE).until(() -> sse.lastControl() != null);
      assertThat(sse.header("Stream-SSE-Data-Encoding")).isEqualTo("base64");
      assertThat(sse.data()).isEqualTo("AAoN/w==");
    }
  }

  // ------------------------------------------------------------------------------------- long-poll

  @Test
  void longPollAnswersAtOnceWhenDataExistsElseWaitsForTheNextAppend() {
    String path = stream("text/plain", "old");
    Resp immediate = http.get(path + "?live=long-poll&offset=-1");
    assertThat(immediate.status()).isEqualTo(200);
    assertThat(immediate.body()).isEqualTo("old");
    assertThat(immediate.header("Stream-Cursor")).matches("\\d+");
    String tail = immediate.header("Stream-Next-Offset");

    CompletableFuture<Resp> waiting = CompletableFuture.supplyAsync(() -> http.get(path + "?live=long-poll&offset=" + tail));
    await().atMost(DEADLINE).until(() -> node.services().metrics().connections("long-poll").get() == 1);
    http.post(path, "text/plain", "new");
    Resp woken = waiting.join();
    assertThat(woken.status()).isEqualTo(200);
    assertThat(woken.body()).isEqualTo("new");
    assertThat(woken.header("Stream-Up-To-Date")).isEqualTo("true");
  }

  @Test
  void longPollTimesOutWith204AndTheCurrentTail() {
    String path = stream("text/plain", "x");
    String tail = http.head(path).header("Stream-Next-Offset");
    Resp timeout = http.get(path + "?live=long-poll&offset=now");
    assertThat(timeout.status()).isEqualTo(204);
    assertThat(timeout.header("Stream-Next-Offset")).isEqualTo(tail);
    assertThat(timeout.header("Stream-Up-To-Date")).isEqualTo("true");
    assertThat(timeout.header("Stream-Cursor")).matches("\\d+");
  }

  @Test
  void longPollLoopReadsEveryAppendExactlyOnce() {
    String path = stream("text/plain", null);
    List<String> received = new ArrayList<>();
    CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
      String offset = "-1";
      while (received.size() < 10) {
        Resp r = http.get(path + "?live=long-poll&offset=" + offset);
        if (r.status() == 200) {
          for (char c : r.body().toCharArray()) {
            received.add(String.valueOf(c));
          }
        }
        offset = r.header("Stream-Next-Offset");
      }
    });
    for (int i = 0; i < 10; i++) {
      http.post(path, "text/plain", Integer.toString(i));
    }
    reader.join();
    assertThat(received).containsExactly("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
  }

  // ------------------------------------------------------------------------------------- WebSocket

  @Test
  void webSocketReplaysThenStreamsLiveWithOffsetsOnEveryFrame() {
    String path = stream("text/plain", "a");
    http.post(path, "text/plain", "b");
    try (WsReader ws = http.ws(path + "?live=ws&offset=-1")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      assertThat(ws.text()).isEqualTo("ab");
      http.post(path, "text/plain", "c");
      await().atMost(DEADLINE).until(() -> ws.text().equals("abc"));
      List<JsonObject> data = ws.frames("data");
      for (int i = 0; i < data.size(); i++) {
        JsonObject frame = data.get(i);
        assertThat(frame.getString("offset")).startsWith(String.format("%016d_", i));
        if (i > 0) {
          assertThat(frame.getString("offset")).isEqualTo(data.get(i - 1).getString("nextOffset"));
        }
      }
    }
  }

  @Test
  void webSocketAppendsAreAcknowledgedAndSeenByOtherReaders() {
    String path = stream("application/json", null);
    try (WsReader writer = http.ws(path + "?live=ws&offset=now");
         SseReader reader = http.sse(path + "?live=sse&offset=now")) {
      await().atMost(DEADLINE).until(() -> !writer.frames("control").isEmpty() && reader.lastControl() != null);
      writer.send(new JsonObject().put("type", "append").put("id", 1).put("data", new JsonObject().put("role", "user")));
      writer.send(new JsonObject().put("type", "append").put("id", 2)
          .put("data", new JsonArray().add(1).add(2))
          .put("producer", new JsonObject().put("id", "tab-1").put("epoch", 0).put("seq", 0)));
      writer.send(new JsonObject().put("type", "append").put("id", 3)
          .put("data", new JsonArray().add(1).add(2))
          .put("producer", new JsonObject().put("id", "tab-1").put("epoch", 0).put("seq", 0)));
      await().atMost(DEADLINE).until(() -> writer.frames("ack").size() == 3);
      List<JsonObject> acks = writer.frames("ack");
      assertThat(acks).extracting(a -> a.getInteger("id")).containsExactly(1, 2, 3);
      assertThat(acks).extracting(a -> a.getInteger("status")).containsExactly(204, 200, 204);
      assertThat(acks.get(2).getBoolean("duplicate")).isTrue();
      await().atMost(DEADLINE).until(() -> writer.frames("data").size() == 2);
      assertThat(writer.frames("data").get(0).getJsonArray("data").getJsonObject(0).getString("role")).isEqualTo("user");
      assertThat(writer.frames("data").get(1).getJsonArray("data")).containsExactly(1, 2);
      await().atMost(DEADLINE).until(() -> reader.events("data").size() == 2);
      assertThat(http.get(path).body()).isEqualTo("[{\"role\":\"user\"},1,2]");
    }
  }

  @Test
  void webSocketSendsPingsAndHeartbeatFramesWhileIdle() {
    String path = stream("text/plain", null);
    try (WsReader ws = http.ws(path + "?live=ws&offset=now")) {
      await().atMost(DEADLINE).until(() -> ws.frames("heartbeat").size() >= 2 && ws.pings() >= 2);
      assertThat(ws.frames("heartbeat").get(0).getString("nextOffset")).isEqualTo("0000000000000000_0000000000000000");
    }
  }

  @Test
  void webSocketClosesNormallyWhenTheStreamCloses() {
    String path = stream("text/plain", "x");
    try (WsReader ws = http.ws(path + "?live=ws&offset=-1")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      ws.send(new JsonObject().put("type", "append").put("id", "last").put("data", "y").put("close", true));
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 1000);
      assertThat(ws.text()).isEqualTo("xy");
      assertThat(ws.frames("control").get(ws.frames("control").size() - 1).getBoolean("closed")).isTrue();
    }
  }

  @Test
  void liveConnectionsAreReleasedWhenClientsGoAway() {
    String path = stream("text/plain", null);
    SseReader sse = http.sse(path + "?live=sse&offset=now");
    WsReader ws = http.ws(path + "?live=ws&offset=now");
    await().atMost(DEADLINE).until(() -> node.services().metrics().totalConnections() >= 2);
    sse.close();
    ws.close();
    await().atMost(DEADLINE).until(() -> node.services().metrics().totalConnections() == 0);
    await().atMost(DEADLINE).until(() -> node.services().live().size() == 0);
  }
}
