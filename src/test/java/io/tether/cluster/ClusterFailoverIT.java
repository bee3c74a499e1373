package io.tether.cluster;

import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.LocalCluster;
import io.tether.support.SseReader;
import io.tether.support.WsReader;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Failover with real processes: a 3-node cluster from {@code scripts/cluster.sh}, the owner of a stream
 * killed with SIGKILL (a crash) or stopped with SIGTERM (a pod deletion) while an idempotent producer
 * writes through every node and live readers follow the stream on SSE and WebSocket.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterFailoverIT {

  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private static LocalCluster cluster;
  private static final Http[] http = new Http[4];
  private static final Set<Integer> alive = new ConcurrentSkipListSet<>(List.of(1, 2, 3));

  @BeforeAll
  static void start() {
    cluster = new LocalCluster(18_180, 15_800);
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
  }

  private static int owner(String stream) {
    for (int i : alive) {
      Resp r = http[i].get("/v1/admin/streams/" + stream);
      if (r.status() == 200) {
        return Integer.parseInt(r.json().getJsonObject("owner").getString("nodeId").substring("node-".length()));
      }
    }
    throw new AssertionError("no node answered the admin look-up");
  }

  private static List<Integer> others(int node) {
    return alive.stream().filter(i -> i != node).toList();
  }

  /** One producer append, retried on other live nodes until acknowledged; returns the status. */
  private static int produce(String path, long seq, int preferredNode, long deadlineMillis) {
    long deadline = System.currentTimeMillis() + deadlineMillis;
    List<Integer> nodes = new ArrayList<>(alive);
    int attempt = nodes.indexOf(preferredNode) < 0 ? 0 : nodes.indexOf(preferredNode);
    while (true) {
      int node = nodes.get(attempt++ % nodes.size());
      try {
        Resp r = http[node].request(HttpMethod.POST, path, Map.of("Content-Type", "text/plain", "Producer-Id", "writer",
            "Producer-Epoch", "0", "Producer-Seq", Long.toString(seq)), ("e" + seq + ";").getBytes(StandardCharsets.UTF_8));
        if (r.status() == 200 || r.status() == 204) {
          return r.status();
        }
        assertThat(r.status()).as("producer seq %d via node %d: %s", seq, node, r.body())
            .isNotIn(400, 403, 404, 409);
      } catch (RuntimeException e) {
        // The node went away mid-request: try the next one.
      }
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("append " + seq + " not acknowledged within " + deadlineMillis + " ms");
      }
    }
  }

  private static String expected(int count) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < count; i++) {
      out.append('e').append(i).append(';');
    }
    return out.toString();
  }

  @Test
  @Order(1)
  void sigkillOfTheOwnerLosesNoAcknowledgedEventAndReadersResumeWithoutGaps() {
    String stream = "failover-kill-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http[1].put(path, "text/plain", null).status()).isEqualTo(201);
    int owner = owner(stream);
    List<Integer> survivors = others(owner);
    try (ResumingSse sse = new ResumingSse(path, survivors.get(0));
         ResumingWs ws = new ResumingWs(path, survivors.get(1));
         LongPollLoop poll = new LongPollLoop(path, survivors.get(0))) {
      for (int seq = 0; seq < 30; seq++) {
        assertThat(produce(path, seq, 1 + seq % 3, 10_000)).isEqualTo(200);
      }
      await().atMost(DEADLINE).until(() -> sse.pump().equals(expected(30)) && ws.pump().equals(expected(30))
          && poll.data().equals(expected(30)));

      cluster.run("kill", Integer.toString(owner));
      long killed = System.currentTimeMillis();
      alive.remove(owner);
      assertThat(produce(path, 30, survivors.get(0), 10_000)).isIn(200, 204);
      long writable = System.currentTimeMillis() - killed;
      for (int seq = 31; seq < 60; seq++) {
        assertThat(produce(path, seq, survivors.get(seq % 2), 10_000)).isIn(200, 204);
      }

      assertThat(writable).as("writable again after SIGKILL (ms)").isLessThan(5_000);
      assertThat(http[survivors.get(0)].get(path + "?offset=-1").body()).isEqualTo(expected(60));
      await().atMost(DEADLINE).until(() -> sse.pump().equals(expected(60)) && ws.pump().equals(expected(60))
          && poll.data().equals(expected(60)));
      assertThat(ws.gaps).isZero();
      assertThat(ws.duplicates).isZero();
      assertThat(poll.failure()).isNull();
    } finally {
      cluster.run("start", Integer.toString(owner));
      alive.add(owner);
    }
  }

  @Test
  @Order(2)
  void sigtermHandsOverWithoutLossAndReadersOnlyReconnect() throws Exception {
    String stream = "failover-term-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http[1].put(path, "text/plain", null).status()).isEqualTo(201);
    int owner = owner(stream);
    int other = others(owner).get(0);
    CompletableFuture<String> stopping = null;
    try (ResumingSse sseOnOwner = new ResumingSse(path, owner);
         ResumingWs wsOnOwner = new ResumingWs(path, owner);
         ResumingSse sseElsewhere = new ResumingSse(path, other)) {
      for (int seq = 0; seq < 20; seq++) {
        assertThat(produce(path, seq, other, 10_000)).isEqualTo(200);
      }
      await().atMost(DEADLINE).until(() -> sseOnOwner.pump().equals(expected(20)) && wsOnOwner.pump().equals(expected(20)));

      stopping = CompletableFuture.supplyAsync(() -> cluster.run("stop", Integer.toString(owner)));
      long longest = 0;
      int seq = 20;
      while (!stopping.isDone() || seq < 40) {
        long before = System.currentTimeMillis();
        assertThat(produce(path, seq++, other, 10_000)).isIn(200, 204);
        longest = Math.max(longest, System.currentTimeMillis() - before);
      }
      stopping.get();
      alive.remove(owner);
      int total = seq;

      // Writes to a stream whose owner leaves wait for its partition to migrate: under a second on an idle
      // machine, about a second under CI's load. The route deadline is 10 s.
      assertThat(longest).as("longest append while the owner was stopping (ms)").isLessThan(3_000);
      assertThat(http[other].get(path).body()).isEqualTo(expected(total));
      await().atMost(DEADLINE).until(() -> sseOnOwner.pump().equals(expected(total))
          && wsOnOwner.pump().equals(expected(total)) && sseElsewhere.pump().equals(expected(total)));
      assertThat(sseOnOwner.reconnects).isEqualTo(1);
      assertThat(wsOnOwner.reconnects).isEqualTo(1);
      assertThat(wsOnOwner.closeCodes).containsExactly((short) 1012);
      assertThat(sseElsewhere.reconnects).isZero();
      assertThat(wsOnOwner.gaps + wsOnOwner.duplicates).isZero();
    } finally {
      if (stopping != null) {
        stopping.join();
      }
      cluster.run("start", Integer.toString(owner));
      alive.add(owner);
    }
  }

  /**
   * Plain appends (no producer headers, so a writer has no safe retry) to 60 streams, a third of them
   * owned by the node that stops, from 8 writers that each keep one append in flight through the stop. No
   * live reader holds the stopping node open, so it goes from handover to exit quickly: requests that other
   * nodes still route to its addresses must be answered (MOVED, on to the new owner), not dropped, or the
   * writers are told "outcome unknown". Every append is acknowledged, and is in its stream once.
   */
  @Test
  @Order(3)
  void sigtermLeavesNoWriteInDoubt() throws Exception {
    int victim = alive.stream().max(Integer::compare).orElseThrow();
    int writer = others(victim).get(0);
    List<String> streams = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      streams.add("/v1/stream/failover-doubt-" + i + "-" + UUID.randomUUID());
      assertThat(http[writer].put(streams.get(i), "text/plain", null).status()).isEqualTo(201);
    }
    Map<String, Integer> acknowledged = new ConcurrentHashMap<>();
    List<String> refused = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicInteger turn = new AtomicInteger();
    List<CompletableFuture<Void>> writers = new ArrayList<>();
    CompletableFuture<String> stopping = null;
    try {
      for (int w = 0; w < 8; w++) {
        writers.add(CompletableFuture.runAsync(() -> {
          while (writing.get()) {
            String target = streams.get(Math.floorMod(turn.getAndIncrement(), streams.size()));
            Resp r = http[writer].request(HttpMethod.POST, target, Map.of("Content-Type", "text/plain"),
                "x".getBytes(StandardCharsets.UTF_8));
            if (r.status() == 204) {
              acknowledged.merge(target, 1, Integer::sum);
            } else {
              refused.add(r.status() + " " + r.body());
            }
          }
        }));
      }
      await().atMost(DEADLINE).until(() -> acknowledged.size() == streams.size());
      stopping = CompletableFuture.supplyAsync(() -> cluster.run("stop", Integer.toString(victim)));
      stopping.get();
      alive.remove(victim);
      // Past the moment the others see the member leave.
      int after = turn.get();
      await().atMost(DEADLINE).until(() -> turn.get() > after + 2 * streams.size());
      writing.set(false);
      CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).get();

      assertThat(refused).as(() -> "appends not acknowledged while a node stopped; the nodes logged: "
          + cluster.logLines("answered outcome unknown", 20)).isEmpty();
      for (String target : streams) {
        assertThat(http[writer].get(target + "?offset=-1").body())
            .as("events of %s", target).isEqualTo("x".repeat(acknowledged.getOrDefault(target, 0)));
      }
    } finally {
      writing.set(false);
      if (stopping != null) {
        stopping.join();
      }
      cluster.run("start", Integer.toString(victim));
      alive.add(victim);
    }
  }

  /**
   * A long-poll reader on its own thread: each answer's body is appended and its
   * {@code Stream-Next-Offset} is the next request's offset, so a gap or a repeat shows in the text.
   */
  private static final class LongPollLoop implements AutoCloseable {
    private final StringBuffer data = new StringBuffer();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile Throwable failure;

    LongPollLoop(String path, int startNode) {
      thread = new Thread(() -> {
        String offset = "-1";
        int node = startNode;
        while (running) {
          try {
            Resp r = http[node].get(path + "?live=long-poll&offset=" + offset);
            if (r.status() == 200) {
              data.append(r.body());
            } else if (r.status() != 204) {
              throw new AssertionError("long-poll answered " + r.status() + ": " + r.body());
            }
            offset = r.header("Stream-Next-Offset");
          } catch (AssertionError e) {
            failure = e;
            return;
          } catch (RuntimeException e) {
            int current = node;
            node = alive.stream().filter(i -> i != current).findFirst().orElse(current);
          }
        }
      }, "long-poll-reader");
      thread.setDaemon(true);
      thread.start();
    }

    String data() {
      return data.toString();
    }

    Throwable failure() {
      return failure;
    }

    @Override
    public void close() {
      running = false;
    }
  }

  /** An SSE reader that, when its connection ends, reconnects to another live node from its last offset. */
  private static final class ResumingSse implements AutoCloseable {
    final String path;
    int node;
    String offset = "-1";
    final StringBuilder data = new StringBuilder();
    SseReader reader;
    int consumed;
    int reconnects;

    ResumingSse(String path, int node) {
      this.path = path;
      this.node = node;
      reader = http[node].sse(path + "?live=sse&offset=-1");
    }

    /** Takes what arrived: data is committed when its control event (and offset) follows. */
    String pump() {
      List<SseReader.Event> events = reader.events();
      StringBuilder pending = new StringBuilder();
      for (int i = consumed; i < events.size(); i++) {
        SseReader.Event event = events.get(i);
        if (event.type().equals("data")) {
          pending.append(event.data());
        } else if (event.type().equals("control")) {
          data.append(pending);
          pending.setLength(0);
          offset = event.json().getString("streamNextOffset");
          consumed = i + 1;
        }
      }
      if (reader.ended() || !alive.contains(node)) {
        int previous = node;
        node = alive.stream().filter(i -> i != previous).findFirst().orElseThrow();
        reader = http[node].sse(path + "?live=sse&offset=" + offset);
        consumed = 0;
        reconnects++;
      }
      return data.toString();
    }

    @Override
    public void close() {
      reader.close();
    }
  }

  /** A WebSocket reader that checks every frame's offset and reconnects from its last offset when closed. */
  private static final class ResumingWs implements AutoCloseable {
    final String path;
    int node;
    String offset = "0000000000000000_0000000000000000";
    final StringBuilder data = new StringBuilder();
    final List<Short> closeCodes = new ArrayList<>();
    WsReader reader;
    int consumed;
    int reconnects;
    int gaps;
    int duplicates;

    ResumingWs(String path, int node) {
      this.path = path;
      this.node = node;
      reader = http[node].ws(path + "?live=ws&offset=-1");
    }

    String pump() {
      List<JsonObject> frames = reader.frames("data");
      for (int i = consumed; i < frames.size(); i++) {
        JsonObject frame = frames.get(i);
        int order = frame.getString("offset").compareTo(offset);
        if (order == 0) {
          data.append(frame.getString("data"));
          offset = frame.getString("nextOffset");
        } else if (order < 0) {
          duplicates++;
        } else {
          gaps++;
        }
      }
      consumed = frames.size();
      if (reader.closeStatus() != null || !alive.contains(node)) {
        if (reader.closeStatus() != null) {
          closeCodes.add(reader.closeStatus());
        }
        int previous = node;
        node = alive.stream().filter(i -> i != previous).findFirst().orElseThrow();
        reader = http[node].ws(path + "?live=ws&offset=" + offset);
        consumed = 0;
        reconnects++;
      }
      return data.toString();
    }

    @Override
    public void close() {
      reader.close();
    }
  }
}
