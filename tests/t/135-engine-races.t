# Task engine, restarts and races (see also t/130-engine-resilience.t):
#   * graceful restarts while a burst of client-sent pages waits in the extraction queue:
#     the stopping children must hand those tasks back and exit cleanly;
#   * items deleted while the engine completes their tasks (PostgreSQL deadlocks);
#   * a task whose worker died on every attempt must be given up after
#     1 + PokettoTaskRetries attempts, as docs/directives.md promises.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use Time::HiRes qw(time sleep);
use POSIX ();

my $u = uniq('race');
my $origin = origin_start();
my $LEASE = 5;
keep_server_up();                       # a crash must not leave the next files without one

# ------------------------------------------------------------------ graceful, extraction queue
# Pages sent by the client go straight to the extraction threads; a burst of them queues
# there. A child that stops while jobs wait in that queue must hand them back and exit
# cleanly (not crash in its pool cleanup).
section 'graceful restarts while pages wait for extraction' => sub {
    my $log = t_logs_dir() . '/error_log';
    my $from = -s $log // 0;
    my $para = join '', map { "<p>Paragraph $_: " . ('lorem ipsum dolor sit amet, consectetur '
                                                     x 12) . "</p>\n" } 1 .. 110;
    my $html = '<!doctype html><html><head><title>Queued For Extraction</title></head><body>'
             . "<article>$para</article></body></html>";
    my $port = port();
    my $kids = fork_clients(4, sub {
        my $c = shift;
        my @ids;
        for my $i (1 .. 12) {
            my ($res, $item) = save_item('alice', "http://127.0.0.1:$port/origin/none?$u-q$c-$i",
                                         html => $html);
            # (a request on a kept-alive connection the restart closes fails in LWP,
            # not in the server: only answered saves are followed)
            push @ids, (task_of($res) // 0) . ':' . ($item ? $item->{id} : 0)
                if $res->code == 202;
        }
        return "@ids";
    });
    my $parent = httpd_parent_pid();
    sleep 0.5;
    for (1 .. 3) {                         # while the saves come in
        kill 'USR1', $parent;
        sleep 0.7;
    }
    my $alive = survived_ok('extraction queue');
    my (@tids, @iids);
    for (map { split ' ' } join_clients($kids)) {
        my ($t, $i) = split /:/;
        push @tids, $t;
        push @iids, $i;
    }
    return unless $alive;
    ok(@tids >= 24, 'extraction queue: most saves were answered (' . scalar(@tids) . ' of 48)');
    fresh_connections();
    my $last = wait_tasks(\@tids, timeout => 25);
    my @not = grep { $last->{$_}->code != 303 } @tids;
    ok(!@not, 'extraction queue: every task ends done')
        or diag('  not done: ' . join ' ', map { "$_=" . $last->{$_}->code } @not);
    my $ev = ready_events(@iids);
    my @odd = grep { $ev->{$_} != 1 } @iids;
    ok(!@odd, 'extraction queue: one item.ready event per item')
        or diag('  events: ' . join ' ', map { "$_=$ev->{$_}" } @odd);
    open(my $fh, '<', $log) or die "$log: $!";
    seek($fh, $from, 0);
    my @crash = grep { /exit signal|AH0005[12]|corrupted|double free/ } <$fh>;
    ok(!@crash, 'extraction queue: no child crashed while stopping')
        or diag('  ' . substr($crash[0], 0, 300));
};

# ------------------------------------------------------------------ deletes vs completions
# Deleting an item while a worker completes its task: both lock the task and the item
# rows; in different orders they deadlock on PostgreSQL and one side fails.
section 'items deleted while the engine completes them' => sub {
    my $port = port();
    my $log = t_logs_dir() . '/error_log';
    my $from = -s $log // 0;
    my @codes = map { split ' ' } join_clients(fork_clients(3, sub {
        my $c = shift;
        my @codes;
        for my $i (1 .. 15) {
            # one that fails at once (refused address), one that is fetched and extracted
            my $url = $i % 2 ? "http://127.0.0.2:$port/origin/article.html?$u-del$c-$i"
                             : "http://127.0.0.1:$port/origin/article.html?$u-del$c-$i";
            my ($res, $item) = save_item('alice', $url);
            my $id = $item ? $item->{id} : 0;
            # let the engine get going on some of them
            Time::HiRes::sleep(0.01 * ($i % 4));
            my $del = req(DELETE => "/api/items/$id", auth => 'alice');
            push @codes, $res->code . '/' . $del->code;
        }
        return join(' ', @codes);
    }));
    is(scalar @codes, 45, 'delete race: 45 save + delete pairs ran');
    my @bad = grep { $_ ne '202/204' } @codes;
    ok(!@bad, 'delete race: every save 202 and every delete 204') or diag("  got: @bad");
    is(db_value("SELECT COUNT(*) FROM tasks WHERE item_id NOT IN (SELECT id FROM items)"), 0,
       'delete race: no task outlives its item');
    sleep 1;                              # completions in progress log their outcome
    open(my $fh, '<', $log) or die "$log: $!";
    seek($fh, $from, 0);
    my @dead = grep { /deadlock detected|database is locked|AH10741/ } <$fh>;
    ok(!@dead, 'delete race: no deadlock and no lost result in error_log')
        or diag('  ' . substr($dead[0], 0, 600));
};

# ------------------------------------------------------------------ a page that kills its worker
# directives.md, PokettoTaskRetries: "A task whose child died counts the attempt too, so a
# page that crashes its worker cannot loop for ever." A worker that dies leaves its task
# running with a lease that runs out; the next claim counts one more attempt. Killing a
# child at the right moment three times in a row is a race on a busy machine (a 2.5 s page
# may be done before the kill lands), so the deaths are written as they leave the row:
# running, owner gone, lease over, attempts 1 + PokettoTaskRetries (2). The engine must
# then give the task up, not fetch the page a 4th time. (t/130 kills real children.)
section 'a task whose worker died every time is given up' => sub {
    my $pid = "$u-poison";
    my ($res, $item) = save_item('alice', "$origin->{url}/fast?id=$pid");
    my $tid = task_of($res) // 0;
    my $iid = $item ? $item->{id} : 0;
    status_is(wait_task($tid), 303, 'poison: the first run is done');
    my $hits = origin_hits($origin, qr/id=\Q$pid\E$/);
    # as three dead workers leave it
    db_rows("UPDATE items SET state = 'pending' WHERE id = $iid");
    db_rows("UPDATE tasks SET state = 'running', owner = 'gone.example:1:1',"
            . " lease_until_ms = 1, attempts = 3 WHERE id = $tid");
    my $last = wait_task($tid, timeout => 15);
    my $d = json_of($last) // {};
    is($last->code . ' ' . ($d->{state} // ''), '200 failed',
       'poison: the task is failed once its attempts are used up')
        or diag('  task: ' . $last->code . ' ' . jenc($d));
    like($d->{error} // '', qr/^the server stopped while working on it, 3 times$/,
         'poison: the task says why');
    is(origin_hits($origin, qr/id=\Q$pid\E$/), $hits, 'poison: the page was not fetched again');
    is(db_value("SELECT attempts FROM tasks WHERE id = $tid"), 4,
       'poison: the claim that gave it up is counted');
    my $it = get_item('alice', $iid) // {};
    is($it->{state}, 'failed', 'poison: the item is failed');
    is($it->{error}, 'the server stopped while working on it, 3 times', 'poison: the item says why');
};

done_testing;
