package io.tether.loadtest;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;

/**
 * (b) Reconnect storm: while its answer streams, each user drops its WebSocket at random moments
 * (about one look in eight, every 250 ms) and resumes from its last offset on a random node. The
 * answer it rebuilds across all its connections must have no gap and no duplicate.
 */
public class ReconnectStormSimulation extends Simulation {

  private final ScenarioBuilder storm = scenario("reconnect storm")
      .exec(Steps.CREATE_SESSION)
      .exec(Steps.ASK)
      .exec(Steps.wsFollow(true))
      .exec(Steps.VERIFY);

  {
    setUp(storm.injectOpen(rampUsers(Settings.USERS).during(Settings.RAMP_SECONDS)))
        .protocols(Protocol.HTTP)
        .assertions(details("final answer").successfulRequests().count().is((long) Settings.USERS));
  }
}
