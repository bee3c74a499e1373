package io.tether.cluster;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers a node's own event-bus addresses so that a failed cluster write does not fail the node's
 * start. With {@code hazelcast.operation.fail.on.indeterminate.state} (cluster.xml) a write whose backup
 * copy was not confirmed in time fails even if it was applied; that is what Tether's stream writes need,
 * and it applies to Vert.x's registration map as well. A member joining while partitions migrated met it
 * once, and its start failed. Registering again is safe: the consumer whose registration failed is
 * unregistered first.
 */
public final class ClusteredConsumers {

  private static final Logger log = LoggerFactory.getLogger(ClusteredConsumers.class);

  private ClusteredConsumers() {
  }

  /**
   * Registers {@code handler} at {@code address}; completes with the consumer once the cluster knows it,
   * after at most {@code attempts} registrations, or fails with the last attempt's failure.
   */
  public static <T> Future<MessageConsumer<T>> register(EventBus eventBus, String address, Handler<Message<T>> handler,
                                                        int attempts) {
    MessageConsumer<T> consumer = eventBus.consumer(address, handler);
    return consumer.completion().map(v -> consumer).recover(e -> {
      if (attempts <= 1) {
        return Future.failedFuture(e);
      }
      log.info("registration of {} failed ({}); registering it again", address, e.getMessage());
      return consumer.unregister().transform(ar -> register(eventBus, address, handler, attempts - 1));
    });
  }
}
