package io.tether.conversation;

import io.tether.support.FakeOpenAi;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.LocalCluster;
import io.tether.support.SseReader;
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
 * Work that outlives its node: a 3-node cluster from {@code scripts/cluster.sh} talking to a fake
 * OpenAI-compatible upstream in this JVM; the owner of a session is SIGKILLed mid-answer, or while a
 * tool call waits for approval, and the session carries on from a survivor.
 */
class ConversationFailoverIT {

  private static final Duration DEADLINE = Duration.ofSeconds(40);

  private static FakeOpenAi upstream;
  private static LocalCluster cluster;
  private static final Http[] http = new Http[4];

  @BeforeAll
  static void start() throws IOException {
    upstream = new FakeOpenAi(4, 25, 120);
    Path tools = Files.createTempFile("tether-tools", ".json");
    Files.writeString(tools, """
        [{"type":"function","function":{"name":"lookup","description":"Looks something up",
          "parameters":{"type":"object","properties":{"q":{"type":"string"}}}},
          "approval":true,"executor":"client"}]
        """);
    cluster = new LocalCluster(18_280, 15_900)
        .env("TETHER_MODEL", "openai")
        .env("TETHER_MODEL_BASE_URL", upstream.baseUrl())
        .env("TETHER_TOOLS_FILE", tools.toString())
        .env("TETHER_COALESCE_MS", "20");
    cluster.run("up", "3");
    for (int i = 1; i <= 3; i++) {
      http[i] = new Http(cluster.port(i));
    }
  }

  @AfterAll
  static void stop() {
    for (int i = 1; i <= 3; i++) {
      if (http[i] != null) {
        http[i].close();
      }
    }
    if (cluster != null) {
      cluster.close();
    }
    if (upstream != null) {
      upstream.close();
    }
  }

  private static int owner(String sessionId) {
    for (int i = 1; i <= 3; i++) {
      try {
        Resp r = http[i].get("/v1/admin/streams/sessions/" + sessionId);
        if (r.status() == 200) {
          return Integer.parseInt(r.json().getJsonObject("owner").getString("nodeId").substring("node-".length()));
        }
      } catch (RuntimeException e) {
        // that node is down
      }
    }
    throw new AssertionError("no node answered the admin look-up");
  }

  private static int other(int node) {
    return node % 3 + 1;
  }

  private static String state(SessionClient device) {
    return device.snapshot().getJsonObject("generation").getString("state");
  }

  @Test
  void aSigkillOfTheOwnerMidAnswerLosesNoCharacterAndRepeatsNone() {
    SessionClient created = SessionClient.create(http[1]);
    int owner = owner(created.id);
    int survivor = other(owner);
    SessionClient reader = new SessionClient(http[survivor], created.id, created.token);
    String prompt = "explain failover slowly";
    try (SseReader sse = reader.sse("-1")) {
      Resp said = reader.say(prompt);
      assertThat(said.status()).as(said.body()).isEqualTo(200);
      await().atMost(DEADLINE).until(() -> SessionClient.text(SessionClient.events(sse)).length() > 60);
      cluster.run("kill", Integer.toString(owner));
      try {
        // The SSE reader on the survivor may be told to reconnect; a fresh reader from its offset also works.
        await().atMost(DEADLINE).ignoreExceptions().until(() -> state(reader).equals("completed"));
        List<JsonObject> events = reader.read("-1");
        assertThat(SessionClient.text(events)).isEqualTo(upstream.answer(prompt));
        List<String> types = SessionClient.types(events);
        assertThat(types).contains("generation.resumed");
        JsonObject resumed = events.get(types.indexOf("generation.resumed"));
        assertThat(resumed.getString("reason")).isEqualTo("owner_changed");
        assertThat(resumed.getInteger("afterChars")).isGreaterThan(0);
        assertThat(types.stream().filter("assistant.start"::equals).count()).isEqualTo(1);
        String last = reader.snapshot().getJsonArray("messages").getJsonObject(1).getString("text");
        assertThat(last).isEqualTo(upstream.answer(prompt));
      } finally {
        cluster.run("start", Integer.toString(owner));
      }
    }
  }

  @Test
  void aSigtermOfTheOwnerMidAnswerHandsTheGenerationOver() {
    SessionClient created = SessionClient.create(http[1]);
    int owner = owner(created.id);
    SessionClient device = new SessionClient(http[other(owner)], created.id, created.token);
    String prompt = "hand this answer over";
    assertThat(device.say(prompt).status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> SessionClient.text(device.read("-1")).length() > 40);
    cluster.run("stop", Integer.toString(owner));
    try {
      await().atMost(DEADLINE).ignoreExceptions().until(() -> state(device).equals("completed"));
      List<JsonObject> events = device.read("-1");
      assertThat(SessionClient.text(events)).isEqualTo(upstream.answer(prompt));
      assertThat(SessionClient.types(events)).contains("generation.resumed").doesNotContain("generation.failed");
    } finally {
      cluster.run("start", Integer.toString(owner));
    }
  }

  @Test
  void aToolCallAwaitingApprovalSurvivesADisconnectAndASigkillAndIsApprovedFromAnotherDevice() {
    SessionClient laptop = SessionClient.create(http[1]);
    assertThat(laptop.say("please use the lookup tool").status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> laptop.snapshot().getJsonArray("tools").size() == 1
        && laptop.snapshot().getJsonArray("tools").getJsonObject(0).getString("state").equals("awaiting_approval"));
    String callId = laptop.snapshot().getJsonArray("tools").getJsonObject(0).getString("callId");
    int owner = owner(laptop.id);
    SessionClient phone = laptop.device(http[other(owner)], "phone");
    cluster.run("kill", Integer.toString(owner));
    try {
      await().atMost(DEADLINE).ignoreExceptions().until(() ->
          phone.post("/tools/" + callId + "/approve", null).status() == 200);
      JsonObject tool = phone.snapshot().getJsonArray("tools").getJsonObject(0);
      assertThat(tool.getString("state")).isEqualTo("running");
      assertThat(tool.getString("decidedBy")).isEqualTo("phone");
      assertThat(phone.post("/tools/" + callId + "/result", new JsonObject().put("result", "found it")).status())
          .isEqualTo(200);
      await().atMost(DEADLINE).until(() -> state(phone).equals("completed"));
      List<JsonObject> events = phone.read("-1");
      assertThat(SessionClient.types(events)).containsSubsequence("tool.awaiting_approval", "tool.approved",
          "tool.running", "tool.completed", "generation.completed");
      assertThat(SessionClient.types(events).stream().filter("tool.requested"::equals).count()).isEqualTo(1);
      assertThat(SessionClient.text(events)).isEqualTo(upstream.answer("please use the lookup tool") + " (with the tool result)");
    } finally {
      cluster.run("start", Integer.toString(owner));
    }
  }
}
