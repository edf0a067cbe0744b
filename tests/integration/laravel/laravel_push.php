<?php
// laravel_push.php: a real Laravel-style producer for tests: phpredis with a key prefix, running
// the same push script by EVAL that Illuminate\Queue\RedisQueue::pushRaw runs (LuaScripts::push).
//
// Usage: php laravel_push.php SOCKET PREFIX QUEUE FIRST_ID COUNT KIND
//   KIND: raw (json_encode of an event envelope), horizon (the same with Horizon's extra fields,
//   re-encoded), job (a Laravel job payload, which Switchyard must dead-letter).
[$_, $socket, $prefix, $queue, $first, $count, $kind] = $argv;

$redis = new Redis();
$redis->connect($socket);
$redis->setOption(Redis::OPT_PREFIX, $prefix);

// Illuminate\Queue\LuaScripts::push()
$push = <<<'LUA'
-- Push the job onto the queue...
redis.call('rpush', KEYS[1], ARGV[1])
-- Push a notification onto the "notify" queue...
redis.call('rpush', KEYS[2], 1)
LUA;

for ($i = (int)$first; $i < (int)$first + (int)$count; $i++) {
    if ($i % 2 == 0) {
        $event = ['event' => 'user.registered', 'payload' => [
            'user_id' => $i, 'email' => "user$i@example.com", 'name' => "User $i",
            'created_at' => '2026-05-07T10:00:00+00:00', 'tags' => []]];
    } else {
        $event = ['event' => 'quote.created', 'payload' => [
            'quote_id' => $i, 'user_id' => $i, 'product_id' => 7, 'qty' => 2,
            'created_at' => '2026-05-07T10:00:00+00:00', 'options' => []]];
    }
    if ($kind === 'horizon') {
        $event += ['type' => 'event', 'tags' => [], 'silenced' => false,
                   'pushedAt' => sprintf('%.4F', microtime(true))];
    }
    if ($kind === 'job') {
        $event = ['uuid' => "00000000-0000-0000-0000-$i", 'displayName' => 'App\\Jobs\\SendWelcomeMail',
                  'job' => 'Illuminate\\Queue\\CallQueuedHandler@call', 'maxTries' => null,
                  'data' => ['commandName' => 'App\\Jobs\\SendWelcomeMail', 'command' => 'O:...']];
    }
    $payload = json_encode($event);
    // RedisQueue::pushRaw: eval(LuaScripts::push(), 2, queues:Q, queues:Q:notify, payload)
    $redis->eval($push, ["queues:$queue", "queues:$queue:notify", $payload], 2);
}
echo "pushed $count\n";
