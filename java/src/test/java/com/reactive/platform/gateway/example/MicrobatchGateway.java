package com.reactive.platform.gateway.example;

import com.reactive.platform.gateway.microbatch.Ack;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import com.reactive.platform.gateway.microbatch.MicrobatchException;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The use the library exists for: an HTTP gateway that answers each POST once Kafka holds its
 * body, on the JDK's built-in server, without a thread per request.
 *
 * <ul>
 *   <li>{@code POST /events} with any body: {@code submit(body)}; when the future completes,
 *       {@code 200 {"partition":P,"offset":O,"index":I}}.</li>
 *   <li>{@code 503} when the collector refuses (ring or tracking slots full, or closed),
 *       {@code 504} when the acknowledgement timed out, {@code 502} when delivery failed,
 *       {@code 413} for a body over {@code event.max.bytes}, {@code 405} for other methods.</li>
 * </ul>
 *
 * <p>Handler threads read the body, submit and return at once; the exchange is answered later
 * by a small responder pool when the future completes (not on the flush or Kafka I/O thread
 * that completed it, so a slow client cannot stall the pipeline).
 *
 * <p>Run it (keys as {@code key=value} arguments, the collector's configuration):
 * <pre>
 * mvn -f java/pom.xml test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=com.reactive.platform.gateway.example.MicrobatchGateway \
 *     -Dexec.args="port=8080 microbatch.impl=java kafka.bootstrap.servers=127.0.0.1:9092"
 * curl -d 'hello' http://127.0.0.1:8080/events
 * </pre>
 */
public final class MicrobatchGateway implements AutoCloseable {
    private final HttpServer server;
    private final MicrobatchCollector collector;
    private final ExecutorService handlers;
    private final ExecutorService responders;

    private MicrobatchGateway(HttpServer server, MicrobatchCollector collector, ExecutorService handlers,
                              ExecutorService responders) {
        this.server = server;
        this.collector = collector;
        this.handlers = handlers;
        this.responders = responders;
    }

    /** Serves {@code POST /events} on {@code address} (port 0: any free port) into {@code collector}. */
    public static MicrobatchGateway start(InetSocketAddress address, MicrobatchCollector collector) throws IOException {
        HttpServer server = HttpServer.create(address, 1024);
        ExecutorService handlers = Executors.newFixedThreadPool(4, daemon("gateway-handler"));
        ExecutorService responders = Executors.newFixedThreadPool(2, daemon("gateway-responder"));
        MicrobatchGateway gateway = new MicrobatchGateway(server, collector, handlers, responders);
        server.createContext("/events", gateway::handle);
        server.setExecutor(handlers);
        server.start();
        return gateway;
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** The port the server listens on. */
    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        if (!"POST".equals(exchange.getRequestMethod())) {
            respond(exchange, 405, "{\"error\":\"POST only\"}");
            return;
        }
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readAllBytes();
        }
        try {
            collector.submit(body).whenCompleteAsync((ack, error) -> answer(exchange, ack, error), responders);
        } catch (IllegalArgumentException tooLarge) {
            respond(exchange, 413, error(tooLarge.getMessage()));
        } catch (IllegalStateException closed) {
            respond(exchange, 503, error(closed.getMessage()));
        }
    }

    private static void answer(HttpExchange exchange, Ack ack, Throwable error) {
        try {
            if (error == null) {
                respond(exchange, 200, "{\"partition\":" + ack.partition() + ",\"offset\":" + ack.offset()
                        + ",\"index\":" + ack.index() + "}");
                return;
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            int status = 500;
            if (cause instanceof MicrobatchException) {
                switch (((MicrobatchException) cause).result()) {
                    case FULL:
                    case TRACKING_FULL:
                    case CLOSED:
                        status = 503;
                        break;
                    case TIMEOUT:
                        status = 504;
                        break;
                    case DELIVERY:
                    case KAFKA:
                        status = 502;
                        break;
                    default:
                        break;
                }
            }
            respond(exchange, status, error(String.valueOf(cause.getMessage())));
        } catch (IOException clientGone) {
            // The caller hung up; its event is stored (or failed) all the same.
        }
    }

    private static String error(String message) {
        return "{\"error\":\"" + message.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}";
    }

    private static void respond(HttpExchange exchange, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** Stops accepting requests (waiting up to a second for exchanges in progress), then closes the collector. */
    @Override
    public void close() {
        server.stop(1);
        collector.close();
        handlers.shutdown();
        responders.shutdown();
        try {
            responders.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** {@code port=N} and the collector's keys, as {@code key=value} arguments. */
    public static void main(String[] args) throws Exception {
        Map<String, String> config = new LinkedHashMap<>();
        int port = 8080;
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("arguments are key=value, got " + arg);
            }
            String key = arg.substring(0, eq);
            String value = arg.substring(eq + 1);
            if (key.equals("port")) {
                port = Integer.parseInt(value);
            } else {
                config.put(key, value);
            }
        }
        MicrobatchGateway gateway = start(new InetSocketAddress(port), MicrobatchCollector.create(config));
        Runtime.getRuntime().addShutdownHook(new Thread(gateway::close, "gateway-shutdown"));
        System.out.println("microbatch gateway on http://127.0.0.1:" + gateway.port() + "/events");
        Thread.currentThread().join();
    }
}
