package io.tether.conversation;

import io.tether.TetherNode;
import io.tether.support.FakeOpenAi;
import io.tether.support.Http;
import io.tether.support.SseReader;
import io.tether.support.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The conversation layer on one node, against a fake OpenAI-compatible upstream: generation that
 * outlives its client, stop from another device, tool approval from another device, resumption after
 * an upstream failure.
 */
class ConversationIT {

  private static final Duration DEADLINE = Duration.ofSeconds(20);
  private static final long COALESCE_MILLIS = 40;

  private static FakeOpenAi upstream;
  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() throws IOException {
    upstream = new FakeOpenAi(3, 10, 80);
    Path tools = Files.createTempFile("tether-tools", ".json");
    Files.writeString(tools, """
        [{"type":"function","function":{"name":"lookup","description":"Looks something up",
          "parameters":{"type":"object","properties":{"q":{"type":"string"}}}},
          "approval":true,"executor":"client"}]
        """);
    node = TestNodes.start(Map.of(
        "TETHER_MODEL", "openai",
        "TETHER_MODEL_BASE_URL", upstream.baseUrl(),
        "TETHER_MODEL_RETRIES", "1",
        "TETHER_COALESCE_MS", Long.toString(COALESCE_MILLIS),
        "TETHER_TOOLS_FILE", tools.toString()));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
    if (upstream != null) {
      upstream.close();
    }
  }

  private static String finalAnswer(SessionClient device) {
    JsonObject snapshot = device.snapshot();
    List<Object> messages = snapshot.getJsonArray("messages").getList();
    JsonObject last = snapshot.getJsonArray("messages").getJsonObject(messages.size() - 1);
    assertThat(last.getString("role")).isEqualTo("assistant");
    return last.getString("text");
  }

  @Test
  void generationContinuesWhileTheOnlyClientIsDisconnectedAndTheReconnectGetsTheWholeAnswer() {
    SessionClient phone = SessionClient.create(http);
    String offset;
    String seenBefore;
    try (SseReader sse = phone.sse("-1")) {
      assertThat(phone.say("tell me about durable sessions").status()).isEqualTo(200);
      await().atMost(DEADLINE).until(() -> SessionClient.text(SessionClient.events(sse)).length() > 20);
      offset = sse.lastControl().getString("streamNextOffset");
      seenBefore = SessionClient.text(SessionClient.events(sse));
    }
    // Nobody is connected now: the answer keeps being generated.
    await().atMost(DEADLINE).until(() -> phone.snapshot().getJsonObject("generation").getString("state").equals("completed"));
    String expected = upstream.answer("tell me about durable sessions");
    try (SseReader sse = phone.sse(offset)) {
      await().atMost(DEADLINE).until(() -> SessionClient.types(SessionClient.events(sse)).contains("generation.completed"));
      List<JsonObject> after = SessionClient.events(sse);
      assertThat(seenBefore + SessionClient.text(after)).isEqualTo(expected);
      assertThat(SessionClient.types(after)).doesNotContain("generation.stopped", "generation.failed");
    }
    assertThat(finalAnswer(phone)).isEqualTo(expected);
  }

  @Test
  void aStopFromASecondDeviceEndsTheGenerationWithinOneCoalescingWindow() {
    SessionClient laptop = SessionClient.create(http);
    SessionClient phone = laptop.device(http, "phone");
    int cancelledBefore = upstream.cancelled.get();
    try (SseReader sse = laptop.sse("-1")) {
      assertThat(laptop.say("a long story please").status()).isEqualTo(200);
      await().atMost(DEADLINE).until(() -> SessionClient.text(SessionClient.events(sse)).length() > 30);
      long stopSent = System.currentTimeMillis();
      var stop = phone.post("/stop", null);
      assertThat(stop.status()).isEqualTo(200);
      await().atMost(DEADLINE).until(() -> SessionClient.types(SessionClient.events(sse)).contains("generation.stopped"));
      List<JsonObject> events = SessionClient.events(sse);
      int stopped = SessionClient.types(events).indexOf("generation.stopped");
      JsonObject stopEvent = events.get(stopped);
      assertThat(stopEvent.getString("device")).isEqualTo("phone");
      // Nothing is generated after the stop event, and it came within one coalescing window of the request.
      assertThat(events.subList(stopped + 1, events.size())).isEmpty();
      assertThat(stopEvent.getLong("at") - stopSent).isLessThanOrEqualTo(COALESCE_MILLIS + 1_000);
      long deltasAfterStop = events.stream().filter(e -> "assistant.delta".equals(e.getString("type"))
          && e.getLong("at") > stopSent).count();
      // While the stop travels to the owner, the answer goes on at one append per coalescing window;
      // once it arrives, only the buffered text is flushed.
      long windowsInFlight = (stopEvent.getLong("at") - stopSent + COALESCE_MILLIS - 1) / COALESCE_MILLIS;
      assertThat(deltasAfterStop).as("deltas appended after the stop was sent (%d ms in flight)",
          stopEvent.getLong("at") - stopSent).isLessThanOrEqualTo(1 + windowsInFlight);
      String text = SessionClient.text(events);
      assertThat(upstream.answer("a long story please")).startsWith(text);
      assertThat(text.length()).isLessThan(upstream.answer("a long story please").length());
    }
    await().atMost(DEADLINE).until(() -> upstream.cancelled.get() > cancelledBefore);
    JsonObject snapshot = laptop.snapshot();
    assertThat(snapshot.getJsonObject("generation").getString("state")).isEqualTo("stopped");
    assertThat(laptop.post("/stop", null).status()).isEqualTo(409);
  }

  @Test
  void aToolCallWaitsForApprovalFromAnyDeviceAndItsResultContinuesTheAnswer() {
    SessionClient laptop = SessionClient.create(http);
    assertThat(laptop.say("please use the lookup tool").status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> laptop.snapshot().getJsonArray("tools").size() == 1
        && laptop.snapshot().getJsonArray("tools").getJsonObject(0).getString("state").equals("awaiting_approval"));
    String callId = laptop.snapshot().getJsonArray("tools").getJsonObject(0).getString("callId");
    var early = laptop.post("/tools/" + callId + "/result", new JsonObject().put("result", "too soon"));
    assertThat(early.status()).isEqualTo(409);
    assertThat(early.errorCode()).isEqualTo("tool_not_running");
    // The laptop goes away; a phone joins and approves.
    SessionClient phone = laptop.device(http, "phone");
    assertThat(phone.post("/tools/" + callId + "/approve", null).status()).isEqualTo(200);
    assertThat(phone.post("/tools/" + callId + "/approve", null).json().getBoolean("duplicate")).isTrue();
    assertThat(phone.post("/tools/" + callId + "/deny", null).status()).isEqualTo(409);
    JsonObject tool = phone.snapshot().getJsonArray("tools").getJsonObject(0);
    assertThat(tool.getString("state")).isEqualTo("running");
    assertThat(tool.getString("decidedBy")).isEqualTo("phone");
    // A client-run tool: the phone posts its result, and the model continues with it.
    assertThat(phone.post("/tools/" + callId + "/result", new JsonObject().put("result", "42")).status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> phone.snapshot().getJsonObject("generation").getString("state").equals("completed"));
    assertThat(finalAnswer(laptop)).isEqualTo(upstream.answer("please use the lookup tool") + " (with the tool result)");
    List<JsonObject> events = laptop.read("-1");
    // The answer that asks for tools says how many tool.requested events follow it.
    JsonObject askedForTools = events.stream().filter(e -> "assistant.end".equals(e.getString("type"))
        && "tool_calls".equals(e.getString("finishReason"))).findFirst().orElseThrow();
    assertThat(askedForTools.getInteger("toolCalls")).isEqualTo(1);
    assertThat(laptop.snapshot().getJsonArray("messages").stream().map(o -> (JsonObject) o)
        .filter(m -> askedForTools.getString("messageId").equals(m.getString("id"))).findFirst().orElseThrow()
        .getInteger("toolCalls")).isEqualTo(1);
    List<String> types = SessionClient.types(events);
    assertThat(types).containsSubsequence("tool.requested", "tool.awaiting_approval", "tool.approved", "tool.running",
        "tool.completed", "generation.resumed", "assistant.start", "assistant.end", "generation.completed");
    JsonObject toolResultMessage = upstream.requests.get(upstream.requests.size() - 1).getJsonArray("messages").stream()
        .map(o -> (JsonObject) o).filter(m -> "tool".equals(m.getString("role"))).findFirst().orElseThrow();
    assertThat(toolResultMessage.getString("content")).isEqualTo("42");
  }

  @Test
  void anUpstreamFailureMidAnswerIsResumedWithoutRepeatingOrLosingText() {
    SessionClient device = SessionClient.create(http);
    upstream.failNextAfterChunks(5);
    assertThat(device.say("survive an upstream cut").status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> device.snapshot().getJsonObject("generation").getString("state").equals("completed"));
    List<JsonObject> events = device.read("-1");
    assertThat(SessionClient.text(events)).isEqualTo(upstream.answer("survive an upstream cut"));
    JsonObject resumed = events.stream().filter(e -> "generation.resumed".equals(e.getString("type"))).findFirst().orElseThrow();
    assertThat(resumed.getString("reason")).isEqualTo("upstream_error");
    assertThat(resumed.getInteger("afterChars")).isGreaterThan(0);
    assertThat(finalAnswer(device)).isEqualTo(upstream.answer("survive an upstream cut"));
    String metrics = http.get("/metrics").body();
    assertThat(metrics).contains("tether_generations_total{event=\"resumed\",reason=\"upstream_error\"}")
        .contains("tether_model_first_token_seconds_count");
  }

  @Test
  void aSecondMessageWhileGeneratingIsRefused() {
    SessionClient device = SessionClient.create(http);
    assertThat(device.say("first").status()).isEqualTo(200);
    var second = device.say("second");
    assertThat(second.status()).isEqualTo(409);
    assertThat(second.errorCode()).isEqualTo("generation_in_progress");
    await().atMost(DEADLINE).until(() -> device.snapshot().getJsonObject("generation").getString("state").equals("completed"));
    assertThat(device.say("second").status()).isEqualTo(200);
  }

  @Test
  void devicesJoinWhenTheyConnectAndLeaveWhenTheyDisconnect() {
    SessionClient laptop = SessionClient.create(http);
    try (SseReader tablet = http.sse(laptop.streamPath() + "?live=sse&offset=-1&device=tablet&token=" + laptop.token)) {
      assertThat(tablet.status()).isEqualTo(200);
      await().atMost(DEADLINE).until(() -> laptop.snapshot().getJsonArray("devices").contains("tablet"));
      await().atMost(DEADLINE).until(() -> SessionClient.types(SessionClient.events(tablet)).contains("device.joined"));
    }
    await().atMost(DEADLINE).until(() -> !laptop.snapshot().getJsonArray("devices").contains("tablet"));
    List<JsonObject> events = laptop.read("-1");
    assertThat(SessionClient.types(events)).containsSubsequence("device.joined", "device.left");
    assertThat(events.stream().filter(e -> "device.joined".equals(e.getString("type"))).count()).isEqualTo(1);
  }

  @Test
  void aDeviceSendsMessagesAndStopsOverItsWebSocket() {
    SessionClient laptop = SessionClient.create(http);
    SessionClient watcher = laptop.device(http, "watcher");
    try (var ws = http.ws(laptop.streamPath() + "?live=ws&offset=-1&token=" + laptop.token)) {
      ws.send(new JsonObject().put("type", "command").put("id", 1)
          .put("command", new JsonObject().put("type", "message").put("text", "over the socket")));
      await().atMost(DEADLINE).until(() -> !ws.frames("result").isEmpty());
      assertThat(ws.frames("result").get(0).getInteger("status")).isEqualTo(200);
      assertThat(ws.frames("result").get(0).getInteger("id")).isEqualTo(1);
      await().atMost(DEADLINE).until(() -> watcher.snapshot().getJsonArray("messages").size() == 2
          && !watcher.snapshot().getJsonArray("messages").getJsonObject(1).getString("text").isEmpty());
      ws.send(new JsonObject().put("type", "command").put("id", 2).put("command", new JsonObject().put("type", "stop")));
      await().atMost(DEADLINE).until(() -> ws.frames("result").size() == 2);
      assertThat(ws.frames("result").get(1).getInteger("status")).isEqualTo(200);
      ws.send(new JsonObject().put("type", "command").put("id", 3).put("command", new JsonObject().put("type", "stop")));
      await().atMost(DEADLINE).until(() -> ws.frames("result").size() == 3);
      assertThat(ws.frames("result").get(2).getInteger("status")).isEqualTo(409);
      ws.send(new JsonObject().put("type", "command").put("id", 4).put("command", new JsonObject().put("type", "presence")));
      await().atMost(DEADLINE).until(() -> !ws.frames("error").isEmpty());
      assertThat(ws.frames("error").get(0).getString("code")).isEqualTo("invalid_command");
    }
    assertThat(watcher.snapshot().getJsonObject("generation").getString("state")).isEqualTo("stopped");
  }
}
