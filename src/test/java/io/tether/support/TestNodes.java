package io.tether.support;

import io.tether.TetherNode;
import io.tether.config.TetherConfig;
import org.awaitility.Awaitility;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Starts real nodes inside the test JVM, on loopback, in a cluster of their own. */
public final class TestNodes {

  private TestNodes() {
  }

  /** Config of a single-node cluster with a unique name and free ports; {@code overrides} are TETHER_* keys. */
  public static TetherConfig config(Map<String, String> overrides) {
    int clusterPort = freePort();
    Map<String, String> values = new HashMap<>();
    values.put("TETHER_NODE_ID", "test-" + UUID.randomUUID().toString().substring(0, 8));
    values.put("TETHER_HTTP_HOST", "127.0.0.1");
    // Every listening port from freePort(), none from the kernel's ephemeral range (see freePort).
    values.put("TETHER_HTTP_PORT", Integer.toString(freePort()));
    values.put("TETHER_EVENTBUS_PORT", Integer.toString(freePort()));
    values.put("TETHER_CLUSTER_NAME", "test-" + UUID.randomUUID());
    values.put("TETHER_CLUSTER_HOST", "127.0.0.1");
    values.put("TETHER_CLUSTER_PORT", Integer.toString(clusterPort));
    values.put("TETHER_CLUSTER_MEMBERS", "127.0.0.1:" + clusterPort);
    values.put("TETHER_HEARTBEAT_SECONDS", "1");
    values.put("TETHER_LEASE_SECONDS", "1");
    values.put("TETHER_LONG_POLL_SECONDS", "2");
    values.putAll(overrides);
    return TetherConfig.fromMap(values);
  }

  public static TetherNode start(Map<String, String> overrides) {
    try {
      return TetherNode.start(config(overrides));
    } catch (Exception e) {
      throw new IllegalStateException("node failed to start", e);
    }
  }

  /**
   * Starts {@code size} nodes as one cluster (a unique name, free ports, each node listing all), node ids
   * {@code <prefix>-0..}, and waits until every partition has its backups in place.
   */
  public static List<TetherNode> cluster(String prefix, int size, Map<String, String> overrides) {
    String name = prefix + "-" + UUID.randomUUID();
    int[] ports = new int[size];
    StringBuilder members = new StringBuilder();
    for (int i = 0; i < size; i++) {
      ports[i] = freePort();
      members.append(i == 0 ? "" : ",").append("127.0.0.1:").append(ports[i]);
    }
    List<TetherNode> nodes = new ArrayList<>();
    try {
      for (int i = 0; i < size; i++) {
        Map<String, String> values = new HashMap<>(overrides);
        values.put("TETHER_NODE_ID", name + "-" + i);
        values.put("TETHER_CLUSTER_NAME", name);
        values.put("TETHER_CLUSTER_PORT", Integer.toString(ports[i]));
        values.put("TETHER_CLUSTER_MEMBERS", members.toString());
        nodes.add(start(values));
      }
      Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> nodes.stream()
          .allMatch(n -> n.hazelcast().getPartitionService().isClusterSafe()));
      return nodes;
    } catch (RuntimeException | Error e) {
      nodes.forEach(TestNodes::stop);
      throw e;
    }
  }

  public static void stop(TetherNode node) {
    if (node != null) {
      Await.result(node.stop());
    }
  }

  /**
   * A port nobody listens on, below the kernel's ephemeral range (32768 and up): a port that the kernel
   * handed out for the probe could be taken as the local end of an outgoing connection (the tests open
   * thousands) before the node binds it. Successive calls walk the range, so they never return the same
   * port twice in a run.
   */
  public static int freePort() {
    for (int tries = 0; tries < PORTS; tries++) {
      int port = FIRST_PORT + Math.floorMod(nextPort.getAndIncrement(), PORTS);
      try (ServerSocket socket = new ServerSocket()) {
        socket.bind(new java.net.InetSocketAddress("127.0.0.1", port));
        return port;
      } catch (IOException e) {
        // In use: the next one.
      }
    }
    throw new UncheckedIOException(new IOException("no free port in " + FIRST_PORT + "-" + (FIRST_PORT + PORTS - 1)));
  }

  private static final int FIRST_PORT = 10_000;
  private static final int PORTS = 5_000;
  private static final java.util.concurrent.atomic.AtomicInteger nextPort =
      new java.util.concurrent.atomic.AtomicInteger(new java.util.Random().nextInt(PORTS));
}
