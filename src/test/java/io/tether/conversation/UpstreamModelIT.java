package io.tether.conversation;

import io.tether.TetherNode;
import io.tether.support.FakeOpenAi;
import io.tether.support.FakeOpenAi.Misbehaviour;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An upstream model that misbehaves: the attempt fails at once (not when the idle timeout notices), and
 * what every reader of the session sees says what failed, never what the upstream wrote.
 */
class UpstreamModelIT {

  /** Far longer than any await here: a turn that waits for it has hung. */
  private static final long IDLE_TIMEOUT_MILLIS = 120_000;

  private static FakeOpenAi upstream;
  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    upstream = new FakeOpenAi(5, 5, 10);
    node = TestNodes.start(Map.of(
        "TETHER_MODEL", "openai",
        "TETHER_MODEL_BASE_URL", upstream.baseUrl(),
        "TETHER_MODEL_RETRIES", "0",
        "TETHER_MODEL_IDLE_TIMEOUT_MS", Long.toString(IDLE_TIMEOUT_MILLIS)));
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

  @ParameterizedTest
  @EnumSource(Misbehaviour.class)
  void aMisbehavingUpstreamFailsTheTurnAtOnceWithoutLeakingWhatItSent(Misbehaviour what) {
    SessionClient session = SessionClient.create(http);
    // An error answer every time (the turn fails for good); a broken stream once (the turn resumes).
    upstream.misbehave(what, what == Misbehaviour.ERROR_WITH_SECRET ? 10 : 1);
    assertThat(session.say("hello").status()).isEqualTo(200);
    // Either way the turn ends well before the idle timeout.
    await().atMost(Duration.ofSeconds(20)).until(() -> !"running".equals(
        session.snapshot().getJsonObject("generation").getString("state")));
    List<JsonObject> events = session.read("-1");
    String everything = events.toString();
    assertThat(everything).doesNotContain(FakeOpenAi.SECRET_IN_ERROR).doesNotContain("yyyyyyyy")
        .doesNotContain("not an array");
    if (what == Misbehaviour.ERROR_WITH_SECRET) {
      JsonObject failed = events.stream().filter(e -> SessionEvents.GENERATION_FAILED.equals(e.getString("type")))
          .findFirst().orElseThrow();
      assertThat(failed.getString("error")).isEqualTo("the model endpoint answered HTTP 400");
    } else {
      assertThat(SessionClient.types(events)).contains(SessionEvents.GENERATION_RESUMED);
      assertThat(session.snapshot().getJsonObject("generation").getString("state")).isEqualTo("completed");
    }
  }
}
