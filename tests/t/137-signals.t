# Stopping children never crashes them, and the module's threads take no signal meant
# for the MPM.
#
# A signal sent to a process goes to any thread that does not block it. httpd 2.4 blocks
# them around child_init in every MPM, so threads the module starts there inherit the
# mask; a thread started elsewhere (from a request thread: prefork's main thread takes
# SIGTERM) would run the MPM's handler. prefork stops a child with two SIGTERMs in a row
# (ap_unixd_killpg, then ap_reclaim_child_processes at once) and its handler destroys the
# child's pool from the interrupted main thread: every cleanup of the module runs then
# (the list cache's hashed its freed keys: children segfaulted on exit, AH00052).
#   * every thread of the module (named "pk-...": fetch, extraction, bus pump and sync,
#     WebSocket I/O) blocks SIGTERM, SIGHUP, SIGUSR1 and SIGWINCH, read from
#     /proc/PID/task/TID/status (the MPMs' own threads unblock some on purpose: worker's
#     workers SIGUSR1, the listener of worker and event SIGHUP);
#   * prefork: children stopped the way the parent stops them (two SIGTERMs back to back)
#     while their engine fetches and their list cache is full exit cleanly (the run's
#     error_log check sees any crash), and their tasks are done by the next children.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use Time::HiRes qw(time sleep);

my %SIG_NO = (HUP => 1, USR1 => 10, TERM => 15, WINCH => 28);
my $mpm = $ENV{POKETTO_TEST_MPM} // '';
keep_server_up();

# tid -> SigBlk mask (Math::BigInt-free: the low 32 bits are all we need)
sub blocked_of {
    my ($pid, $tid) = @_;
    open(my $fh, '<', "/proc/$pid/task/$tid/status") or return undef;
    while (my $l = <$fh>) {
        return hex(substr($1, -8)) if $l =~ /^SigBlk:\s*([0-9a-f]+)/;
    }
    return undef;
}

sub comm_of {
    my ($pid, $tid) = @_;
    open(my $fh, '<', "/proc/$pid/task/$tid/comm") or return undef;
    my $c = <$fh> // return undef;
    chomp $c;
    return $c;
}

sub thread_names {
    my $pid = shift;
    return join ' ', map { comm_of($pid, $_) // '' } threads_of($pid);
}

sub threads_of {
    my $pid = shift;
    return map { m{/(\d+)$} ? $1 : () } glob "/proc/$pid/task/*";
}

section("the module's threads (named pk-...) block the MPM signals", sub {
    my (@kids, %names);
    my $until = time + 10;
    while (time < $until) {             # fetch, bus pump, bus sync at least
        @kids = grep { (() = thread_names($_) =~ /\bpk-/g) >= 3 } httpd_children();
        last if @kids;
        sleep 0.1;
    }
    ok(scalar @kids, "children with the module's threads: @kids");
    my ($checked, @bad) = (0);
    for my $pid (@kids) {
        for my $tid (threads_of($pid)) {
            my $name = comm_of($pid, $tid) // next;
            next unless $name =~ /^pk-/;
            my $mask = blocked_of($pid, $tid) // next;      # a thread that just ended
            ++$checked;
            ++$names{$name};
            for my $sig (sort keys %SIG_NO) {
                push @bad, "$pid/$tid ($name) $sig" unless $mask & (1 << ($SIG_NO{$sig} - 1));
            }
        }
    }
    cmp_ok($checked, '>=', 3 * scalar(@kids), "$checked threads checked: "
           . join(', ', map { "$_ x$names{$_}" } sort keys %names));
    is("@bad", '', 'each blocks SIGTERM, SIGHUP, SIGUSR1 and SIGWINCH');
});

SKIP: {
    skip 'prefork only: the others stop children through their signal thread', 4
        unless $mpm eq 'prefork';
    section('prefork: children stopped by two SIGTERMs while fetching', sub {
        my $origin = origin_start();
        my $u = uniq('sig');
        my @tasks;
        for my $k (1 .. 6) {
            my ($res) = save_item('alice', "$origin->{url}/slow?ms=1500&id=$u-$k");
            push @tasks, task_of($res) // 0;
        }
        for my $k (1 .. 60) {                       # list answers cached in every child
            fresh_connections();
            req(GET => "/api/items?limit=" . (1 + $k % 30) . "&state=" . ($k % 2 ? 'all' : 'unread'),
                auth => 'alice');
        }
        sleep 0.5;                                  # claimed and fetching by now
        my @victims = httpd_children();
        ok(scalar @victims, 'children to stop: ' . scalar @victims);
        for my $pid (@victims) {
            kill 'TERM', $pid;
            kill 'TERM', $pid;
        }
        my $gone = 0;
        my $until = time + 15;
        while (time < $until) {
            $gone = grep { !pid_alive($_) } @victims;
            last if $gone == @victims;
            sleep 0.1;
        }
        is($gone, scalar @victims, 'every child stopped');
        survived_ok('children stopped by two SIGTERMs');
        fresh_connections();
        my $last = wait_tasks(\@tasks, timeout => 40);
        is(join(',', map { $last->{$_} ? $last->{$_}->code : 'none' } @tasks),
           join(',', (303) x @tasks), 'the tasks they held were handed back and done (303)');
        origin_stop();
    });
}

done_testing();
