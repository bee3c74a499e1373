package io.tether.config;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Settings that protect the node: their defaults, their checks, and what the node reports as open. */
class TetherConfigTest {

  @Test
  void protectingStreamsNeedsTheApiKeyThatMintsTheirTokens() {
    assertThatThrownBy(() -> TetherConfig.fromMap(Map.of("TETHER_STREAM_AUTH", "writes")))
        .hasMessageContaining("TETHER_API_KEY");
    assertThatThrownBy(() -> TetherConfig.fromMap(Map.of("TETHER_STREAM_AUTH", "sometimes")))
        .hasMessageContaining("open, writes or all");
    assertThat(TetherConfig.fromMap(Map.of("TETHER_STREAM_AUTH", "ALL", "TETHER_API_KEY", "k")).streamAuth())
        .isEqualTo(StreamAuth.ALL);
  }

  @Test
  void limitsHaveSafeDefaultsAndRefuseNonsense() {
    TetherConfig defaults = TetherConfig.defaults();
    assertThat(defaults.maxConnectionsPerIp()).isEqualTo(256);
    assertThat(defaults.maxBodyBufferBytes()).isBetween((long) defaults.maxAppendBytes(), 256L << 20);
    assertThat(defaults.idleTimeoutSeconds()).as("above AWS ALB's 60 s").isGreaterThan(60);
    assertThat(defaults.maxStreamsPerNode()).isGreaterThanOrEqualTo(1_000);
    assertThatThrownBy(() -> TetherConfig.fromMap(Map.of("TETHER_MAX_BODY_BUFFER_BYTES", "10")))
        .hasMessageContaining("TETHER_MAX_BODY_BUFFER_BYTES");
    assertThatThrownBy(() -> TetherConfig.fromMap(Map.of("TETHER_CLUSTER_TLS_CERT", "/c.pem")))
        .hasMessageContaining("TETHER_CLUSTER_TLS_KEY");
  }

  @Test
  void eventLoopsDefaultToHalfTheCoresAndCanBeSet() {
    assertThat(TetherConfig.defaultEventLoops(1)).isEqualTo(1);
    assertThat(TetherConfig.defaultEventLoops(2)).isEqualTo(1);
    assertThat(TetherConfig.defaultEventLoops(3)).isEqualTo(1);
    assertThat(TetherConfig.defaultEventLoops(16)).isEqualTo(8);
    assertThat(TetherConfig.defaults().eventLoops())
        .isEqualTo(TetherConfig.defaultEventLoops(Runtime.getRuntime().availableProcessors()));
    assertThat(TetherConfig.fromMap(Map.of("TETHER_EVENT_LOOPS", "4")).eventLoops()).isEqualTo(4);
    assertThatThrownBy(() -> TetherConfig.fromMap(Map.of("TETHER_EVENT_LOOPS", "0")))
        .hasMessageContaining("TETHER_EVENT_LOOPS");
  }

  @Test
  void whatIsOpenIsNamedSettingBySetting() {
    assertThat(TetherConfig.defaults().openToAnyone()).hasSize(4);
    TetherConfig exposed = TetherConfig.fromMap(Map.of("TETHER_CLUSTER_HOST", "10.0.0.5"));
    assertThat(String.join(" ", exposed.openToAnyone())).contains("TETHER_CLUSTER_TLS_CERT");
    TetherConfig closed = TetherConfig.fromMap(Map.of("TETHER_API_KEY", "k", "TETHER_STREAM_AUTH", "writes",
        "TETHER_ADMIN_TOKEN", "a", "TETHER_METRICS_TOKEN", "m", "TETHER_CLUSTER_HOST", "10.0.0.5",
        "TETHER_CLUSTER_TLS_CERT", "/c.pem", "TETHER_CLUSTER_TLS_KEY", "/k.pem"));
    assertThat(closed.openToAnyone()).isEmpty();
  }

  @Test
  void aClusterOfThreeOrMoreListedMembersNeedsAMajorityAndABackupForWrites() {
    TetherConfig single = TetherConfig.defaults();
    assertThat(single.clusterQuorum()).isEqualTo(1);
    assertThat(single.minReplicas()).isEqualTo(1);
    TetherConfig three = TetherConfig.fromMap(Map.of("TETHER_CLUSTER_MEMBERS", "a:1,b:1, c:1"));
    assertThat(three.clusterQuorum()).isEqualTo(2);
    assertThat(three.minReplicas()).isEqualTo(2);
    assertThat(TetherConfig.fromMap(Map.of("TETHER_CLUSTER_MEMBERS", "a,b,c,d,e")).clusterQuorum()).isEqualTo(3);
    assertThat(TetherConfig.fromMap(Map.of("TETHER_CLUSTER_MEMBERS", "a,b")).clusterQuorum())
        .as("two members cannot tell a crash from a partition").isEqualTo(1);
    assertThat(TetherConfig.fromMap(Map.of("TETHER_DISCOVERY", "kubernetes")).clusterQuorum()).isEqualTo(1);
    assertThat(TetherConfig.fromMap(Map.of("TETHER_DISCOVERY", "kubernetes", "TETHER_CLUSTER_QUORUM", "2")).minReplicas())
        .isEqualTo(2);
    assertThatThrownBy(() -> TetherConfig.fromMap(Map.of("TETHER_MIN_REPLICAS", "3"))).hasMessageContaining("1 or 2");
    assertThatThrownBy(() -> TetherConfig.fromMap(Map.of("TETHER_CLUSTER_QUORUM", "0"))).hasMessageContaining("at least 1");
  }
}
