package io.tether.loadtest;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;

/**
 * (a) Streaming: each user creates a session, sends a message and reads the whole answer over the
 * session's WebSocket; the answer it rebuilt must equal the session's final answer.
 */
public class StreamingSimulation extends Simulation {

  private final ScenarioBuilder streaming = scenario("streaming")
      .exec(Steps.CREATE_SESSION)
      .exec(Steps.ASK)
      .exec(Steps.wsFollow(false))
      .exec(Steps.VERIFY);

  {
    setUp(streaming.injectOpen(rampUsers(Settings.USERS).during(Settings.RAMP_SECONDS)))
        .protocols(Protocol.HTTP)
        .assertions(details("final answer").successfulRequests().count().is((long) Settings.USERS));
  }
}
