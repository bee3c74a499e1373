package io.tether.cluster;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tether.TetherNode;
import io.tether.support.TestNodes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A graceful stop (SIGTERM, pod deletion) leaves the cluster without logging an error: the node shuts
 * its Hazelcast member down first (handing its partitions over) and Vert.x's leave afterwards must not
 * report the already-departed member as a failure.
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

  private static TetherNode member(String cluster, int port, String members, String nodeId) {
    return TestNodes.start(Map.of("TETHER_NODE_ID", nodeId, "TETHER_CLUSTER_NAME", cluster,
        "TETHER_CLUSTER_PORT", Integer.toString(port), "TETHER_CLUSTER_MEMBERS", members));
  }

  private List<String> errors() {
    return logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR))
        .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()).toList();
  }
}
