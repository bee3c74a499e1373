package io.tether.conversation;

import io.tether.TetherNode;
import io.tether.security.KeyedIds;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.SseReader;
import io.tether.support.TestNodes;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What a holder of a read token can do to a session it may only watch (nothing lasting), and a client
 * retrying a session's creation (gets the session its first attempt made).
 */
class SessionAbuseIT {

  private static final String SECRET = "a-secret-for-the-session-abuse-test-32ch";
  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final int RING = 16;

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of(
        "TETHER_TOKEN_SECRET", SECRET,
        "TETHER_RING_MAX_EVENTS", Integer.toString(RING),
        "TETHER_SIM_TOKENS_PER_SECOND", "400",
        "TETHER_SIM_ANSWER_WORDS", "20",
        "TETHER_COALESCE_MS", "20",
        "TETHER_REQUEST_TIMEOUT_MS", "400",
        "TETHER_ROUTE_DEADLINE_MS", "1500"));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  /** A read token that names no device: its holder chooses one per connection with {@code ?device=}. */
  private static String anonymousReadToken(SessionClient session) {
    Resp minted = session.post("/tokens", new JsonObject().put("scope", "read"));
    assertThat(minted.status()).isEqualTo(201);
    return minted.json().getString("token");
  }

  /**
   * Opens one SSE connection per device name, waits until they are all live, then closes them. A connection
   * refused for the moment (503 on a starved machine) is opened again, as a client would.
   */
  private static void connectDevices(SessionClient session, String token, String prefix, int devices) {
    List<SseReader> readers = new ArrayList<>();
    java.util.function.IntFunction<SseReader> open =
        i -> http.sse(session.streamPath() + "?live=sse&offset=now&token=" + token + "&device=" + prefix + i);
    try {
      for (int i = 0; i < devices; i++) {
        readers.add(open.apply(i));
      }
      await().atMost(DEADLINE).until(() -> {
        for (int i = 0; i < devices; i++) {
          SseReader r = readers.get(i);
          if (r.lastControl() == null && (r.status() == 503 || r.ended())) {
            r.close();
            readers.set(i, open.apply(i));
          }
        }
        return readers.stream().allMatch(r -> r.lastControl() != null);
      });
    } finally {
      readers.forEach(SseReader::close);
    }
  }

  private static long count(List<JsonObject> events, String type) {
    return events.stream().filter(e -> type.equals(e.getString("type"))).count();
  }

  @Test
  void aReadTokenCyclingDeviceNamesWritesABoundedNumberOfPresenceEvents() {
    SessionClient session = SessionClient.create(http);
    String token = anonymousReadToken(session);
    try (SseReader watcher = session.sse("now")) {
      await().atMost(DEADLINE).until(() -> watcher.lastControl() != null);
      connectDevices(session, token, "cycled-", SessionCompanion.MAX_DEVICES + 16);
      // Every device has left once its node's grace period is over.
      await().atMost(DEADLINE).until(() -> count(SessionClient.events(watcher), SessionEvents.DEVICE_LEFT)
          == count(SessionClient.events(watcher), SessionEvents.DEVICE_JOINED)
          && count(SessionClient.events(watcher), SessionEvents.DEVICE_JOINED) > 0);
      List<JsonObject> events = SessionClient.events(watcher);
      assertThat(count(events, SessionEvents.DEVICE_JOINED)).isLessThanOrEqualTo(SessionCompanion.MAX_DEVICES);
      assertThat(count(events, SessionEvents.DEVICE_LEFT)).isLessThanOrEqualTo(SessionCompanion.MAX_DEVICES);
    }
  }

  /**
   * However many events pass between two saves of the snapshot, a new owner restores the session: the
   * snapshot never falls out of the ring. The owner is retired here as a failover would retire it.
   */
  @Test
  void aSessionWhoseRingTurnedOverManyTimesStillRestores() {
    SessionClient session = SessionClient.create(http);
    assertThat(session.say("first question").status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> "completed".equals(session.snapshot().getJsonObject("generation").getString("state")));
    String token = anonymousReadToken(session);
    for (int round = 0; round < 3; round++) {
      connectDevices(session, token, "r" + round + "-", SessionCompanion.MAX_DEVICES);
    }
    await().atMost(DEADLINE).until(() -> session.snapshot().getJsonArray("devices").isEmpty());
    String stream = session.streamPath().substring("/v1/stream/".length());
    node.services().owners().get(stream).retireAsync("a test moves the session");
    await().atMost(DEADLINE).ignoreExceptions().until(() -> {
      JsonObject restored = session.snapshot();
      return restored.getJsonArray("messages").getJsonObject(0).getString("text").equals("first question");
    });
    assertThat(session.say("second question").status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> session.snapshot().getJsonArray("messages").size() == 4
        && "completed".equals(session.snapshot().getJsonObject("generation").getString("state")));
  }

  private static Resp create(String key) {
    return http.request(HttpMethod.POST, "/v1/sessions", Map.of("Idempotency-Key", key, "Content-Type", "application/json"),
        "{\"device\":\"laptop\"}".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void aRetriedCreationReturnsTheSameSession() {
    String key = UUID.randomUUID().toString();
    Resp first = create(key);
    assertThat(first.status()).isEqualTo(201);
    Resp again = create(key);
    assertThat(again.status()).isEqualTo(200);
    assertThat(again.header("Idempotent-Replayed")).isEqualTo("true");
    assertThat(again.json().getString("sessionId")).isEqualTo(first.json().getString("sessionId"));
    assertThat(http.get("/v1/sessions/" + first.json().getString("sessionId"),
        Map.of("Authorization", "Bearer " + again.json().getString("token"))).status()).isEqualTo(200);
    assertThat(create(UUID.randomUUID().toString()).json().getString("sessionId"))
        .isNotEqualTo(first.json().getString("sessionId"));
    Resp bad = create("short");
    assertThat(bad.status()).isEqualTo(400);
    assertThat(bad.errorCode()).isEqualTo("invalid_idempotency_key");
  }

  /** The first attempt's answer is lost (the owner did not answer in time); the retry finds its session. */
  @Test
  void aCreationRetriedAfterA503FindsTheSessionInsteadOfMakingAnOrphan() throws Exception {
    String key = UUID.randomUUID().toString();
    String id = new KeyedIds(SECRET).sessionIdFor(key);
    CountDownLatch release = new CountDownLatch(1);
    com.hazelcast.map.IMap<String, Object> streams = node.hazelcast().getMap("tether.streams");
    var blocker = streams.submitToKey(SessionIds.streamOf(id), entry -> {
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return null;
    });
    Resp lost;
    try {
      lost = create(key);
    } finally {
      release.countDown();
    }
    blocker.toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(lost.status()).as(lost.body()).isEqualTo(503);
    Resp retry = create(key);
    assertThat(retry.status()).as(retry.body()).isIn(200, 201);
    assertThat(retry.json().getString("sessionId")).isEqualTo(id);
    SessionClient session = new SessionClient(http, id, retry.json().getString("token"));
    assertThat(count(session.read("-1"), SessionEvents.SESSION_CREATED)).isEqualTo(1);
  }
}
