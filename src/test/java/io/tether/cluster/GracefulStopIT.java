package io.tether.cluster;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.SseReader;
import io.tether.support.TestNodes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A graceful stop (SIGTERM, pod deletion) leaves the cluster without logging an error: the node shuts
 * its Hazelcast member down first (handing its partitions over) and Vert.x's leave afterwards must not
 * report the already-departed member as a failure. Clients of the stopping node see every response
 * whole: live responses end properly, requests that arrive while it drains are refused with
 * {@code 503 node_draining}, and sockets close only after that.
 */
class GracefulStopIT {

  private static final Duration DEADLINE = Duration.ofSeconds(60);

  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

  @BeforeEach
  void capture() {
    logged.start();
    root.addAppender(logged);
  }

  @AfterEach
  void release() {
    root.detachAppender(logged);
  }

  @Test
  void aSingleNodeStopsWithoutLoggingAnError() {
    TetherNode node = TestNodes.start(Map.of());
    TestNodes.stop(node);

    assertThat(errors()).isEmpty();
    assertThat(node.hazelcast().getLifecycleService().isRunning()).isFalse();
  }

  @Test
  void aMemberLeavesItsClusterWithoutLoggingAnErrorAndTheOtherSeesItGo() {
    String cluster = "graceful-" + UUID.randomUUID();
    int[] ports = {TestNodes.freePort(), TestNodes.freePort()};
    String members = "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1];
    TetherNode first = member(cluster, ports[0], members, "graceful-1");
    TetherNode second = member(cluster, ports[1], members, "graceful-2");
    try {
      await().atMost(DEADLINE).until(() -> first.services().cluster().memberCount() == 2
          && first.hazelcast().getPartitionService().isClusterSafe());

      TestNodes.stop(second);

      assertThat(errors()).isEmpty();
      await().atMost(DEADLINE).until(() -> first.services().cluster().memberCount() == 1);
    } finally {
      TestNodes.stop(first);
      TestNodes.stop(second);
    }
    assertThat(errors()).isEmpty();
  }

  @Test
  void clientsOfAStoppingNodeGetWholeAnswersAndLiveResponsesEndCleanly() throws Exception {
    String cluster = "graceful-" + UUID.randomUUID();
    int[] ports = {TestNodes.freePort(), TestNodes.freePort()};
    String members = "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1];
    TetherNode first = member(cluster, ports[0], members, "drain-1");
    TetherNode second = member(cluster, ports[1], members, "drain-2");
    Http client = new Http(second.httpPort());
    List<String> broken = new CopyOnWriteArrayList<>();
    List<Integer> statuses = new CopyOnWriteArrayList<>();
    try {
      await().atMost(DEADLINE).until(() -> first.services().cluster().memberCount() == 2
          && first.hazelcast().getPartitionService().isClusterSafe());
      String path = "/v1/stream/drain-" + UUID.randomUUID();
      assertThat(client.put(path, "text/plain", "a").status()).isEqualTo(201);
      SseReader sse = client.sse(path + "?offset=-1&live=sse");
      LongPoll poll = new LongPoll(second.httpPort(), path);
      await().atMost(DEADLINE).until(() -> sse.data().equals("a"));

      // Requests keep arriving at the stopping node until it no longer accepts connections. A request may
      // fail before any answer (the connection was refused, or reset before the node read it); an answer
      // that started must be whole, and a request that got no answer must not have been applied.
      AtomicBoolean hammering = new AtomicBoolean(true);
      java.util.concurrent.atomic.AtomicInteger unanswered = new java.util.concurrent.atomic.AtomicInteger();
      io.vertx.core.http.HttpClient raw = client.vertx().createHttpClient(new io.vertx.core.http.HttpClientOptions()
          .setDefaultHost("127.0.0.1").setDefaultPort(second.httpPort()).setKeepAlive(false));
      List<Thread> hammers = new java.util.ArrayList<>();
      for (int h = 0; h < 4; h++) {
        Thread hammer = new Thread(() -> {
          while (hammering.get()) {
            java.util.concurrent.atomic.AtomicBoolean headSeen = new java.util.concurrent.atomic.AtomicBoolean();
            try {
              io.vertx.core.Future<String> answer = raw.request(io.vertx.core.http.HttpMethod.POST, path)
                  .compose(req -> req.putHeader("Content-Type", "text/plain").send("b"))
                  .compose(res -> {
                    headSeen.set(true);
                    statuses.add(res.statusCode());
                    if (res.statusCode() == 503 && !"close".equals(res.getHeader("Connection"))) {
                      broken.add("503 without Connection: close");
                    }
                    return res.body().map(b -> res.statusCode() + " " + b);
                  });
              answer.await(20, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Throwable e) {
              if (headSeen.get()) {
                broken.add("answer cut after its head: " + e);
              } else {
                unanswered.incrementAndGet();
                if (refused(e)) {
                  return;
                }
              }
            }
          }
        });
        hammer.start();
        hammers.add(hammer);
      }
      // And a reader that, told to go, comes straight back to the same node (as a client with a cached
      // address does): each of its live responses must end whole too.
      Thread reconnecting = new Thread(() -> {
        while (hammering.get()) {
          java.util.concurrent.atomic.AtomicBoolean headSeen = new java.util.concurrent.atomic.AtomicBoolean();
          try {
            raw.request(io.vertx.core.http.HttpMethod.GET, path + "?offset=-1&live=sse")
                .compose(req -> req.send())
                .compose(res -> {
                  headSeen.set(true);
                  return res.body();
                }).await(60, java.util.concurrent.TimeUnit.SECONDS);
          } catch (Throwable e) {
            if (headSeen.get()) {
              broken.add("live response cut after its head: " + e);
            } else if (refused(e)) {
              return;
            }
          }
        }
      });
      reconnecting.start();
      hammers.add(reconnecting);
      await().atMost(DEADLINE).until(() -> statuses.size() > 5);
      TestNodes.stop(second);
      hammering.set(false);
      for (Thread hammer : hammers) {
        hammer.join(30_000);
      }
      raw.close();

      await().atMost(DEADLINE).until(sse::ended);
      assertThat(sse.failure()).as("the SSE response ended with its last chunk, not a cut connection").isNull();
      assertThat(poll.outcome()).as("the waiting long-poll ended with a whole answer").matches("(200|204) .*");
      assertThat(broken).as("answers cut or malformed").isEmpty();
      assertThat(statuses).allMatch(s -> s == 204 || s == 503);
      // Every append that took was answered 204; none of those that failed before an answer took.
      try (Http survivor = new Http(first.httpPort())) {
        String content = survivor.get(path + "?offset=-1").body();
        long stored = content.chars().filter(c -> c == 'b').count();
        assertThat(stored).as("appends stored, against %d answered 204 and %d unanswered", statuses.stream()
            .filter(st -> st == 204).count(), unanswered.get()).isEqualTo(statuses.stream().filter(st -> st == 204).count());
      }
    } finally {
      client.close();
      TestNodes.stop(first);
      TestNodes.stop(second);
    }
  }

  /**
   * Live readers whose connections end (a closed tab, a phone losing its network, a WebSocket closed) are
   * no longer counted as running requests: otherwise every graceful stop of a node that ever lost such a client would wait out
   * its whole drain deadline for them, and warn about requests that are long gone.
   */
  @Test
  void liveReadersWhoseClientsLeftDoNotHoldTheStop() throws Exception {
    TetherNode node = TestNodes.start(Map.of());
    try (Http client = new Http(node.httpPort())) {
      String path = "/v1/stream/left-" + UUID.randomUUID();
      assertThat(client.put(path, "text/plain", "a").status()).isEqualTo(201);
      SseReader sse = client.sse(path + "?offset=-1&live=sse");
      await().atMost(DEADLINE).until(() -> sse.data().equals("a"));
      java.net.Socket poll = new java.net.Socket("127.0.0.1", node.httpPort());
      poll.getOutputStream().write(("GET " + path + "?offset=now&live=long-poll HTTP/1.1\r\nHost: x\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      poll.getOutputStream().flush();
      io.tether.support.WsReader ws = client.ws(path + "?offset=-1&live=ws");
      await().atMost(DEADLINE).until(() -> ws.text().equals("a"));
      // The SSE response and the waiting long-poll run; the WebSocket counts as a live connection instead.
      await().atMost(DEADLINE).until(() -> node.drain().active() == 2
          && node.services().metrics().totalConnections() == 3);

      sse.close();
      poll.close();
      ws.close();

      await().atMost(DEADLINE).until(() -> node.drain().active() == 0
          && node.services().metrics().totalConnections() == 0);
    } finally {
      TestNodes.stop(node);
    }
    assertThat(logged.list).extracting(ILoggingEvent::getFormattedMessage)
        .noneMatch(m -> m.contains("still open after"));
  }

  /** A connection refused (the node no longer listens): the expected end, not a broken answer. */
  private static boolean refused(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.ConnectException || String.valueOf(t.getMessage()).contains("Connection refused")) {
        return true;
      }
    }
    return false;
  }

  /** A long-poll waiting at the tail on its own connection, and how it ended. */
  private static final class LongPoll {
    private final java.util.concurrent.CompletableFuture<String> outcome = new java.util.concurrent.CompletableFuture<>();

    LongPoll(int port, String path) {
      java.net.http.HttpClient jdk = java.net.http.HttpClient.newHttpClient();
      jdk.sendAsync(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + path
              + "?offset=now&live=long-poll")).build(), java.net.http.HttpResponse.BodyHandlers.ofString())
          .whenComplete((r, e) -> outcome.complete(e != null ? "failed: " + e : r.statusCode() + " " + r.body()));
    }

    String outcome() throws Exception {
      return outcome.get(60, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  private static TetherNode member(String cluster, int port, String members, String nodeId) {
    return TestNodes.start(Map.of("TETHER_NODE_ID", nodeId, "TETHER_CLUSTER_NAME", cluster,
        "TETHER_CLUSTER_PORT", Integer.toString(port), "TETHER_CLUSTER_MEMBERS", members));
  }

  private List<String> errors() {
    return logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR))
        .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()).toList();
  }
}
