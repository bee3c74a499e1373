package io.tether.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.tether.support.TestNodes;
import io.vertx.core.Completable;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A node's own addresses are registered again when the cluster write of a registration fails (as a
 * write whose backup was not confirmed in time does with fail-on-indeterminate-state), so that one
 * failed write does not fail the node's start; and the failure is passed on once the attempts run out.
 * One real Hazelcast member and a clustered Vert.x whose cluster manager refuses the first writes.
 */
class ClusteredConsumersIT {

  private HazelcastInstance member;
  private Vertx vertx;

  /** Fails the first {@code failures} registrations of {@code address}; counts them. */
  static final class RefusingClusterManager extends HazelcastClusterManager {
    final String address;
    final AtomicInteger failuresLeft;
    final AtomicInteger attempts = new AtomicInteger();

    RefusingClusterManager(HazelcastInstance member, String address, int failures) {
      super(member);
      this.address = address;
      this.failuresLeft = new AtomicInteger(failures);
    }

    @Override
    public void addRegistration(String address, RegistrationInfo registrationInfo, Completable<Void> promise) {
      if (address.equals(this.address)) {
        attempts.incrementAndGet();
        if (failuresLeft.getAndDecrement() > 0) {
          promise.fail(new IllegalStateException("backup not confirmed in time (simulated)"));
          return;
        }
      }
      super.addRegistration(address, registrationInfo, promise);
    }
  }

  private RefusingClusterManager start(String address, int failures) throws Exception {
    int port = TestNodes.freePort();
    Config config = new Config();
    config.setClusterName("consumers-" + UUID.randomUUID());
    config.getNetworkConfig().setPort(port).setPortAutoIncrement(false);
    config.getNetworkConfig().getInterfaces().setEnabled(true).addInterface("127.0.0.1");
    config.getNetworkConfig().getJoin().getAutoDetectionConfig().setEnabled(false);
    config.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
    config.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(true).addMember("127.0.0.1:" + port);
    config.getMemberAttributeConfig().setAttribute(ClusterView.NODE_ID_ATTRIBUTE, "consumers-test");
    member = Hazelcast.newHazelcastInstance(config);
    RefusingClusterManager manager = new RefusingClusterManager(member, address, failures);
    vertx = Vertx.builder().withClusterManager(manager).buildClustered()
        .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    return manager;
  }

  @AfterEach
  void stop() throws Exception {
    if (vertx != null) {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    if (member != null) {
      member.shutdown();
    }
  }

  @Test
  void aFailedRegistrationIsMadeAgainAndTheAddressAnswers() throws Exception {
    RefusingClusterManager manager = start("tether.test.control", 2);

    MessageConsumer<String> consumer = ClusteredConsumers.<String>register(vertx.eventBus(), "tether.test.control",
        message -> message.reply("pong " + message.body()), 3).toCompletionStage().toCompletableFuture()
        .get(30, TimeUnit.SECONDS);

    assertThat(manager.attempts).hasValue(3);
    assertThat(consumer.isRegistered()).isTrue();
    // One handler answers: the consumers of the failed attempts were unregistered.
    String answer = vertx.eventBus().<String>request("tether.test.control", "ping").map(m -> m.body())
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertThat(answer).isEqualTo("pong ping");
    Promise<List<RegistrationInfo>> registrations = Promise.promise();
    manager.getRegistrations("tether.test.control", registrations);
    assertThat(registrations.future().await(10, TimeUnit.SECONDS)).hasSize(1);
  }

  @Test
  void theLastFailureIsPassedOnWhenTheAttemptsRunOut() throws Exception {
    RefusingClusterManager manager = start("tether.test.live", 5);

    assertThatThrownBy(() -> ClusteredConsumers.<String>register(vertx.eventBus(), "tether.test.live",
        message -> { }, 3).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS))
        .hasRootCauseMessage("backup not confirmed in time (simulated)");
    assertThat(manager.attempts).hasValue(3);
  }
}
