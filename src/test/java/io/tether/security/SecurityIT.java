package io.tether.security;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tether.TetherNode;
import io.tether.cluster.routing.StreamRequest;
import io.tether.stream.ForkSpec;
import io.tether.stream.Outcome;
import io.tether.stream.StreamReply;
import io.tether.support.Http.Resp;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.tether.support.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The attacks of the security review, each against the mechanism that stops it: a session read through
 * a fork, stored script served from the API's origin, internal errors drawn by hostile values, a node
 * that runs open without saying so.
 */
class SecurityIT {

  private static final String API_KEY = "security-it-key";

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of("TETHER_API_KEY", API_KEY,
        "TETHER_TOKEN_SECRET", "a-secret-for-the-security-test-32-chars"));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  private static String session() {
    Resp created = http.request(HttpMethod.POST, "/v1/sessions", Map.of("Authorization", "Bearer " + API_KEY),
        "{\"device\":\"laptop\"}".getBytes(StandardCharsets.UTF_8));
    assertThat(created.status()).isEqualTo(201);
    String id = created.json().getString("sessionId");
    String token = created.json().getString("token");
    Resp message = http.request(HttpMethod.POST, "/v1/sessions/" + id + "/messages",
        Map.of("Authorization", "Bearer " + token), "{\"text\":\"my secret question\"}".getBytes(StandardCharsets.UTF_8));
    assertThat(message.status()).isEqualTo(200);
    return id;
  }

  // ------------------------------------------------------------------------------ 1. forks of a session

  @ParameterizedTest
  @ValueSource(strings = {
      "sessions/{id}",
      "/v1/stream/sessions/{id}",
      "http://127.0.0.1/v1/stream/sessions/{id}",
      "https://tether.example:443/v1/stream/sessions/{id}",
      "sessions%2F{id}",
      "/v1/stream/sessions%2f{id}",
      "/v1/stream/%73essions/{id}",
      "/v1/stream/x/../sessions/{id}",
      "/v1/stream/./sessions/{id}",
      "/v1/stream/sessions/./{id}",
      "/v1/stream/x/%2E%2E/sessions/{id}",
  })
  void noFormOfForkedFromReachesASessionWithoutItsToken(String form) {
    String id = session();
    String fork = "/v1/stream/leak-" + UUID.randomUUID();
    Resp put = http.request(HttpMethod.PUT, fork, Map.of("Stream-Forked-From", form.replace("{id}", id)), null);
    assertThat(put.status()).as(put.body()).isIn(400, 403);
    Resp read = http.get(fork + "?offset=-1");
    assertThat(read.status()).isEqualTo(404);
    assertThat(read.body()).doesNotContain("my secret question");
  }

  /** The mechanism under the header check: a session's owner never hands its events to a fork. */
  @Test
  void theOwnerOfASessionRefusesToGiveItsDataToAFork() {
    String id = session();
    StreamReply reply = result(node.services().router().request("sessions/" + id,
        new StreamRequest.TakeForkData(new ForkSpec("sessions/" + id, null, 0), null)));
    assertThat(reply.outcome()).isEqualTo(Outcome.FORBIDDEN);
    assertThat(reply.events()).isEmpty();
  }

  @Test
  void aSessionIsNotReadableThroughAnyOtherSpellingOfItsPath() {
    String id = session();
    for (String path : List.of("/v1/stream/sessions%2F" + id, "/v1/stream/sessions%2f" + id,
        "/v1/stream/%73essions/" + id)) {
      Resp read = http.get(path + "?offset=-1");
      assertThat(read.status()).as(path).isEqualTo(401);
      assertThat(read.body()).doesNotContain("my secret question");
    }
    for (String path : List.of("/v1/stream/x/../sessions/" + id, "/v1/stream/./sessions/" + id)) {
      Resp read = http.get(path + "?offset=-1");
      assertThat(read.status()).as(path).isEqualTo(400);
      assertThat(read.body()).doesNotContain("my secret question");
    }
  }

  // ------------------------------------------------------------------------------ 3. stored script

  @Test
  void streamContentIsServedInertWhateverItsContentType() {
    String name = "/v1/stream/xss-" + UUID.randomUUID();
    assertThat(http.put(name, "text/html", "<script>localStorage.clear()</script>").status()).isEqualTo(201);
    for (Resp resp : List.of(http.get(name + "?offset=-1"), http.get(name + "?offset=-1&live=long-poll"), http.head(name))) {
      assertThat(resp.header("Content-Security-Policy")).contains("default-src 'none'").contains("sandbox");
      assertThat(resp.header("X-Content-Type-Options")).isEqualTo("nosniff");
    }
    // The session API, errors and operations endpoints carry it too; the demo keeps its own policy.
    assertThat(http.get("/v1/sessions/nope").header("Content-Security-Policy")).contains("sandbox");
    assertThat(http.get("/health/ready").header("Content-Security-Policy")).contains("sandbox");
    assertThat(http.get("/").header("Content-Security-Policy")).startsWith("default-src 'self'").doesNotContain("sandbox");
  }

  // ------------------------------------------------------------------------------ 4. hostile values

  @ParameterizedTest
  @ValueSource(strings = {"+999999999-01-01T00:00:00Z", "-999999999-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
      "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00"})
  void expiryTimesNoStreamCanHaveAreRefused(String value) {
    Resp resp = http.request(HttpMethod.PUT, "/v1/stream/expiry-" + UUID.randomUUID(),
        Map.of("Stream-Expires-At", value), null);
    assertThat(resp.status()).as(resp.body()).isEqualTo(400);
    assertThat(resp.errorCode()).isEqualTo("invalid_header");
  }

  @Test
  void jsonThatIsNotUtf8IsRefused() {
    String name = "/v1/stream/utf16-" + UUID.randomUUID();
    assertThat(http.put(name, "application/json", null).status()).isEqualTo(201);
    Resp resp = http.request(HttpMethod.POST, name, Map.of("Content-Type", "application/json"),
        "\"a\"".getBytes(StandardCharsets.UTF_16LE));
    assertThat(resp.status()).as(resp.body()).isEqualTo(400);
    assertThat(resp.errorCode()).isEqualTo("invalid_json");
    assertThat(http.get(name + "?offset=-1").body()).isEqualTo("[]");
  }

  // ------------------------------------------------------------------------------ open by default

  @Test
  void aNodeSaysOnceWhatItLeavesOpen() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(TetherNode.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    try {
      TetherNode open = TestNodes.start(Map.of());
      TestNodes.stop(open);
      List<String> warnings = appender.list.stream().filter(e -> e.getLevel() == Level.WARN)
          .map(ILoggingEvent::getFormattedMessage).filter(m -> m.startsWith("Open to anyone")).toList();
      assertThat(warnings).hasSize(1);
      assertThat(warnings.get(0)).contains("TETHER_API_KEY").contains("TETHER_STREAM_AUTH=open")
          .contains("TETHER_ADMIN_TOKEN").contains("TETHER_METRICS_TOKEN").contains("TETHER_TOKEN_SECRET");
      assertThat(appender.list).filteredOn(e -> e.getLevel() == Level.WARN).hasSize(1);
      appender.list.clear();

      // Everything closed but the token secret: one warning, about that alone.
      TetherNode closed = TestNodes.start(Map.of("TETHER_API_KEY", "k", "TETHER_STREAM_AUTH", "writes",
          "TETHER_ADMIN_TOKEN", "a", "TETHER_METRICS_TOKEN", "m"));
      TestNodes.stop(closed);
      assertThat(appender.list).noneMatch(e -> e.getFormattedMessage().startsWith("Open to anyone"));
      assertThat(appender.list).filteredOn(e -> e.getLevel() == Level.WARN).singleElement()
          .satisfies(e -> assertThat(e.getFormattedMessage()).startsWith("TETHER_TOKEN_SECRET is not set"));
      appender.list.clear();

      TetherNode secured = TestNodes.start(Map.of("TETHER_API_KEY", "k", "TETHER_STREAM_AUTH", "writes",
          "TETHER_ADMIN_TOKEN", "a", "TETHER_METRICS_TOKEN", "m", "TETHER_TOKEN_SECRET", "s".repeat(40)));
      TestNodes.stop(secured);
      assertThat(appender.list).noneMatch(e -> e.getLevel() == Level.WARN);
    } finally {
      logger.detachAppender(appender);
    }
  }

  @Test
  void metricsCanBeProtected() {
    TetherNode protectedNode = TestNodes.start(Map.of("TETHER_METRICS_TOKEN", "scrape-me"));
    try (Http client = new Http(protectedNode.httpPort())) {
      assertThat(client.get("/metrics").status()).isEqualTo(401);
      assertThat(client.get("/metrics", Map.of("Authorization", "Bearer wrong")).status()).isEqualTo(403);
      Resp ok = client.get("/metrics", Map.of("Authorization", "Bearer scrape-me"));
      assertThat(ok.status()).isEqualTo(200);
      assertThat(ok.body()).contains("tether_appends_total");
    } finally {
      TestNodes.stop(protectedNode);
    }
    assertThat(http.get("/metrics").status()).as("open unless a token is set").isEqualTo(200);
  }

  /** With TETHER_TOKEN_SECRET set, no member puts a signing secret in cluster state for others to read. */
  @Test
  void aConfiguredTokenSecretNeverEntersClusterState() {
    assertThat(node.hazelcast().getMap("tether.secrets").isEmpty()).isTrue();
    TetherNode generated = TestNodes.start(Map.of());
    try {
      assertThat(generated.hazelcast().getMap("tether.secrets").size()).as("without it, the generated one is shared")
          .isEqualTo(1);
    } finally {
      TestNodes.stop(generated);
    }
  }
}
