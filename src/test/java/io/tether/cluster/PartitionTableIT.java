package io.tether.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.instance.impl.HazelcastInstanceImpl;
import com.hazelcast.instance.impl.HazelcastInstanceProxy;
import com.hazelcast.internal.partition.InternalPartition;
import com.hazelcast.internal.partition.InternalPartitionService;
import io.tether.stream.Outcome;
import io.tether.stream.StreamReply;
import io.tether.support.TestNodes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A member notices a partition whose two copies were both on members that left from its own partition
 * table, the moment they leave, with Hazelcast's partition-lost events not listened to at all (they were
 * seen arriving 10 s late on some members, after a request had found the partition empty).
 *
 * <p>Three real Hazelcast members in this JVM; the guard is bound on the last to join (not the master,
 * which is the member whose table Hazelcast keeps first), while members are still joining, as a node binds
 * it at start-up. The two others are terminated (no graceful hand-over) at once.
 */
class PartitionTableIT {

  private final List<HazelcastInstance> members = new ArrayList<>();

  @AfterEach
  void stop() {
    members.forEach(m -> m.getLifecycleService().terminate());
  }

  @Test
  void aMemberSeesFromItsOwnTableThatBothCopiesOfAPartitionLeft() {
    String cluster = "table-" + UUID.randomUUID();
    int base = TestNodes.freePort();
    int[] ports = {base, TestNodes.freePort(), TestNodes.freePort()};
    for (int port : ports) {
      members.add(Hazelcast.newHazelcastInstance(config(cluster, port, ports)));
      if (members.size() == 2) {
        // Both copies of most partitions end up on these two before the third joins: the third's table
        // changes under it while it watches.
        members.get(0).getMap(io.tether.stream.StreamStore.MAP_NAME).put("warm-up", "x");
      }
    }
    HazelcastInstance survivor = members.get(2);
    QuorumGuard guard = new QuorumGuard(2, 1, 2_500, 5_000, System::nanoTime);
    guard.bind(survivor, false);
    guard.startPauseDetector();
    try {
      await().atMost(Duration.ofSeconds(60)).until(() -> members.stream().allMatch(m -> m.getCluster().getMembers().size() == 3)
          && survivor.getPartitionService().isClusterSafe());
      InternalPartitionService partitions = internal(survivor).node.getPartitionService();
      UUID self = survivor.getCluster().getLocalMember().getUuid();
      String elsewhere = null;
      for (int i = 0; elsewhere == null && i < 10_000; i++) {
        InternalPartition p = partitions.getPartition(partitions.getPartitionId("stream-" + i), false);
        if (p.getReplica(0) != null && p.getReplica(1) != null
            && !self.equals(p.getReplica(0).uuid()) && !self.equals(p.getReplica(1).uuid())) {
          elsewhere = "stream-" + i;
        }
      }
      assertThat(elsewhere).as("a stream whose two copies are on the other members").isNotNull();
      String stream = elsewhere;
      assertThat(guard.absentRefusal(stream)).as("nothing lost yet").isNull();

      survivor.getMap(io.tether.stream.StreamStore.MAP_NAME).put(stream, "copy");
      // Both at the same instant, as a partition cuts them off: no time to copy the partition to the survivor.
      Thread first = new Thread(() -> members.get(0).getLifecycleService().terminate());
      Thread second = new Thread(() -> members.get(1).getLifecycleService().terminate());
      first.start();
      second.start();
      await().atMost(Duration.ofSeconds(30)).until(() -> survivor.getCluster().getMembers().size() == 1);
      assertThat(survivor.getMap(io.tether.stream.StreamStore.MAP_NAME).containsKey(stream))
          .as("the stream's copies went with the two members").isFalse();

      StreamReply refusal = guard.absentRefusal(stream);
      assertThat(refusal).as("absent, but both copies left: not an answer").isNotNull();
      assertThat(refusal.outcome()).isEqualTo(Outcome.PARTITION_LOST);
      assertThat(guard.isLost(partitions.getPartitionId(stream))).isTrue();
    } finally {
      guard.close();
    }
  }

  private static HazelcastInstanceImpl internal(HazelcastInstance instance) {
    return instance instanceof HazelcastInstanceProxy proxy ? proxy.getOriginal() : (HazelcastInstanceImpl) instance;
  }

  private static Config config(String cluster, int port, int[] ports) {
    Config config = new Config();
    config.setClusterName(cluster);
    config.setProperty("hazelcast.logging.type", "slf4j");
    config.setProperty("hazelcast.phone.home.enabled", "false");
    config.setProperty("hazelcast.heartbeat.interval.seconds", "1");
    config.setProperty("hazelcast.max.no.heartbeat.seconds", "5");
    config.getNetworkConfig().setPort(port).setPortAutoIncrement(false);
    config.getNetworkConfig().getInterfaces().setEnabled(true).addInterface("127.0.0.1");
    config.getNetworkConfig().getJoin().getAutoDetectionConfig().setEnabled(false);
    config.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
    var tcp = config.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(true);
    for (int p : ports) {
      tcp.addMember("127.0.0.1:" + p);
    }
    return config;
  }
}
