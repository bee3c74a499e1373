package io.tether.conversation;

import io.tether.TetherNode;
import io.tether.support.FakeOpenAi;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A session costs nothing while it waits for a person: its owner passivates while a tool call awaits
 * approval, and the approval, sent from another device through another node, wakes a new owner that
 * restores the session and carries the turn to its end. A generation in progress keeps its owner up.
 */
class SessionPassivationIT {

  private static final Duration DEADLINE = Duration.ofSeconds(40);
  private static FakeOpenAi upstream;
  private static final List<TetherNode> nodes = new ArrayList<>();
  private static final List<Http> http = new ArrayList<>();

  @BeforeAll
  static void start() throws IOException {
    upstream = new FakeOpenAi(8, 20, 60);
    Path tools = Files.createTempFile("tether-tools", ".json");
    Files.writeString(tools, """
        [{"type":"function","function":{"name":"lookup","description":"Looks something up",
          "parameters":{"type":"object","properties":{"q":{"type":"string"}}}},
          "approval":true,"executor":"client"}]
        """);
    nodes.addAll(TestNodes.cluster("session-passivation", 3, Map.of("TETHER_OWNER_IDLE_SECONDS", "1",
        "TETHER_MODEL", "openai", "TETHER_MODEL_BASE_URL", upstream.baseUrl(), "TETHER_TOOLS_FILE", tools.toString(),
        "TETHER_COALESCE_MS", "20")));
    nodes.forEach(n -> http.add(new Http(n.httpPort())));
  }

  @AfterAll
  static void stop() {
    http.forEach(Http::close);
    nodes.forEach(TestNodes::stop);
    if (upstream != null) {
      upstream.close();
    }
  }

  private static boolean owned(String sessionId) {
    String stream = SessionIds.streamOf(sessionId);
    return nodes.stream().anyMatch(n -> n.services().owners().get(stream) != null);
  }

  private static String state(SessionClient device) {
    return device.snapshot().getJsonObject("generation").getString("state");
  }

  @Test
  void aSessionAwaitingApprovalPassivatesAndTheApprovalFromAnotherNodeWakesIt() {
    SessionClient laptop = SessionClient.create(http.get(0));
    SessionClient phone = laptop.device(http.get(2), "phone");
    String prompt = "please use the lookup tool";
    assertThat(laptop.say(prompt).status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> laptop.snapshot().getJsonArray("tools").size() == 1
        && laptop.snapshot().getJsonArray("tools").getJsonObject(0).getString("state").equals("awaiting_approval"));
    String callId = laptop.snapshot().getJsonArray("tools").getJsonObject(0).getString("callId");

    // Nobody asks anything: the owner goes, although the turn is not over.
    await().atMost(DEADLINE).until(() -> !owned(laptop.id));

    assertThat(phone.post("/tools/" + callId + "/approve", null).status()).isEqualTo(200);
    JsonObject tool = phone.snapshot().getJsonArray("tools").getJsonObject(0);
    assertThat(tool.getString("state")).isEqualTo("running");
    assertThat(tool.getString("decidedBy")).isEqualTo("phone");

    // Waiting for the client's result is waiting too.
    await().atMost(DEADLINE).until(() -> !owned(laptop.id));
    assertThat(phone.post("/tools/" + callId + "/result", new JsonObject().put("result", "found it")).status())
        .isEqualTo(200);
    await().atMost(DEADLINE).until(() -> state(phone).equals("completed"));

    List<JsonObject> events = phone.read("-1");
    List<String> types = SessionClient.types(events);
    assertThat(types).containsSubsequence("tool.awaiting_approval", "tool.approved", "tool.running", "tool.completed",
        "generation.completed");
    assertThat(types.stream().filter("tool.requested"::equals).count()).isEqualTo(1);
    assertThat(types.stream().filter("tool.awaiting_approval"::equals).count()).isEqualTo(1);
    assertThat(SessionClient.text(events)).isEqualTo(upstream.answer(prompt) + " (with the tool result)");
  }

  @Test
  void aGenerationKeepsItsOwnerUntilTheAnswerEnds() {
    SessionClient device = SessionClient.create(http.get(1));
    String prompt = "a long answer while nobody asks";
    assertThat(device.say(prompt).status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> !owned(device.id));
    assertThat(state(device)).isEqualTo("completed");
    List<JsonObject> events = device.read("-1");
    assertThat(SessionClient.text(events)).isEqualTo(upstream.answer(prompt));
    assertThat(SessionClient.types(events)).as("the owner never went away mid-answer").doesNotContain("generation.resumed");
  }
}
