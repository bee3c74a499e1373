package io.tether;

import io.tether.config.TetherConfig;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.OpenSSLEngineOptions;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The clustered event bus's transport options a node's settings select. */
class EventBusOptionsTest {

  @Test
  void withoutACertificateTheEventBusIsPlainText() {
    EventBusOptions options = TetherNode.eventBusOptions(TetherConfig.fromMap(Map.of()));
    assertThat(options.isSsl()).isFalse();
  }

  @Test
  void withACertificateItIsMutualTlsSealedByBoringSsl() {
    EventBusOptions options = TetherNode.eventBusOptions(TetherConfig.fromMap(Map.of(
        "TETHER_CLUSTER_TLS_CERT", "cluster.crt", "TETHER_CLUSTER_TLS_KEY", "cluster.key")));
    assertThat(options.isSsl()).isTrue();
    assertThat(options.getClientAuth()).isEqualTo(ClientAuth.REQUIRED);
    // The native engine loads on the platforms the jar bundles it for (Linux x86-64); the JDK's engine
    // costs several times its CPU per record under load.
    assertThat(OpenSSLEngineOptions.isAvailable()).as("BoringSSL loads").isTrue();
    assertThat(options.getSslEngineOptions()).isInstanceOf(OpenSSLEngineOptions.class);
  }
}
