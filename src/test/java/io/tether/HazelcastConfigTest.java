package io.tether;

import com.hazelcast.config.Config;
import com.hazelcast.config.KubernetesConfig;
import io.tether.config.TetherConfig;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** cluster.xml with a node's settings: the join method each TETHER_DISCOVERY value selects. */
class HazelcastConfigTest {

  private static Config hazelcast(Map<String, String> env) throws Exception {
    return TetherNode.hazelcastConfig(TetherConfig.fromMap(env));
  }

  @Test
  void tcpJoinsTheMemberListOnly() throws Exception {
    Config hz = hazelcast(Map.of("TETHER_CLUSTER_MEMBERS", "10.0.0.1:5701,10.0.0.2:5701"));
    assertThat(hz.getNetworkConfig().getJoin().getTcpIpConfig().isEnabled()).isTrue();
    assertThat(hz.getNetworkConfig().getJoin().getTcpIpConfig().getMembers()).containsExactly("10.0.0.1:5701", "10.0.0.2:5701");
    assertThat(hz.getNetworkConfig().getJoin().getKubernetesConfig().isEnabled()).isFalse();
    assertThat(hz.getNetworkConfig().getJoin().getMulticastConfig().isEnabled()).isFalse();
  }

  @Test
  void kubernetesResolvesTheHeadlessServiceByDns() throws Exception {
    Config hz = hazelcast(Map.of("TETHER_DISCOVERY", "kubernetes",
        "TETHER_K8S_SERVICE_DNS", "tether-hazelcast.chat.svc.cluster.local"));
    KubernetesConfig k8s = hz.getNetworkConfig().getJoin().getKubernetesConfig();
    assertThat(k8s.isEnabled()).isTrue();
    assertThat(k8s.getProperties()).containsEntry("service-dns", "tether-hazelcast.chat.svc.cluster.local")
        .doesNotContainKey("service-name");
    assertThat(hz.getNetworkConfig().getJoin().getTcpIpConfig().isEnabled()).isFalse();
  }

  @Test
  void kubernetesApiListsTheServiceEndpoints() throws Exception {
    Config hz = hazelcast(Map.of("TETHER_DISCOVERY", "kubernetes-api", "TETHER_K8S_NAMESPACE", "chat"));
    KubernetesConfig k8s = hz.getNetworkConfig().getJoin().getKubernetesConfig();
    assertThat(k8s.isEnabled()).isTrue();
    assertThat(k8s.getProperties()).containsEntry("service-name", "tether-hazelcast").containsEntry("namespace", "chat")
        .doesNotContainKey("service-dns");
  }
}
