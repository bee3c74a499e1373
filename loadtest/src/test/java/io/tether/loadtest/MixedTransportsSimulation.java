package io.tether.loadtest;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.core.CoreDsl.uniformRandomSwitch;

/**
 * (c) Mixed transports: a third of the users follow their answer over WebSocket, a third over SSE, a
 * third over long-poll, all on the same offsets; every rebuilt answer must equal the final answer.
 */
public class MixedTransportsSimulation extends Simulation {

  private final ScenarioBuilder mixed = scenario("mixed transports")
      .exec(Steps.CREATE_SESSION)
      .exec(Steps.ASK)
      .exec(uniformRandomSwitch().on(Steps.wsFollow(false), Steps.sseFollow(), Steps.longPollFollow()))
      .exec(Steps.VERIFY);

  {
    setUp(mixed.injectOpen(rampUsers(Settings.USERS).during(Settings.RAMP_SECONDS)))
        .protocols(Protocol.HTTP)
        .assertions(details("final answer").successfulRequests().count().is((long) Settings.USERS));
  }
}
