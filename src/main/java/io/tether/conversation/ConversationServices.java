package io.tether.conversation;

import io.tether.config.TetherConfig;
import io.tether.ops.TetherMetrics;
import io.vertx.core.http.HttpClient;

/**
 * What every session owner of a node shares: the model, the tools, the session maps and the client
 * for tool webhooks. Built once by {@link io.tether.TetherNode}.
 */
public record ConversationServices(
    TetherConfig config,
    ChatModel model,
    Tools tools,
    SessionStore store,
    HttpClient webhookClient,
    TetherMetrics metrics) {
}
