#!/usr/bin/perl
# Run Apache::Test test files against an already started server and count assertions.
#
#   perl bin/tap-run.pl --log FILE [--verbose] [--timeout S] [--budget S] t/a.t t/b.t ...
#
# --timeout: seconds one file may take (60); --budget: seconds all files may take (240);
# files not started within the budget count one failure each.
#
# Every "ok"/"not ok" line is one assertion. A file that stops early costs extra
# failures: the assertions it planned but did not run, or one failure when it died
# without a plan, was killed by the timeout, or exited non-zero without a failing
# assertion. The last line of output is
#   RESULT <passed> <failed>
use strict;
use warnings;
use Getopt::Long;
use TAP::Parser;
use Time::HiRes qw(time);

my ($log, $verbose, $timeout, $budget) = (undef, 0, 60, 240);
GetOptions('log=s' => \$log, 'verbose' => \$verbose, 'timeout=i' => \$timeout,
           'budget=i' => \$budget)
    or die "usage: $0 --log FILE [--verbose] [--timeout S] [--budget S] t/*.t\n";
my $started = time;

my $logfh;
if ($log) { open $logfh, '>', $log or die "$log: $!\n"; }
sub logline { print $logfh @_, "\n" if $logfh; print @_, "\n" if $verbose; }

my ($passed, $failed) = (0, 0);
for my $file (@ARGV) {
    my $t0 = time;
    my ($p, $f, @bad) = (0, 0);
    logline("# ---- $file");
    my $left = int($started + $budget - $t0);
    if ($left < 5) {
        $failed++;
        printf "  %-28s not run: the run's %ds budget is used up\n", $file, $budget;
        logline("# not run: budget used up");
        next;
    }
    my $limit = $left < $timeout ? $left : $timeout;
    # timeout(1) ends a file that hangs; the parser then sees it stop early
    my $parser = TAP::Parser->new({
        exec  => [ 'timeout', '-k', '5', $limit, $^X, '-It/lib', $file ],
        merge => 1,
    });
    my $in_diag = 0;
    while (my $r = $parser->next) {
        logline($r->as_string);
        if ($r->is_comment || ($r->is_unknown && $r->as_string =~ /^\s*#/)) {
            # diagnostics that follow a failed assertion (limited, to keep output short)
            push @bad, '    ' . $r->as_string if $in_diag && $in_diag++ <= 12;
            next;
        }
        next unless $r->is_test;
        $in_diag = 0;
        if ($r->is_ok) { $p++ }
        else { $f++; push @bad, $r->as_string; $in_diag = 1 }
    }
    my $planned = $parser->tests_planned;
    my $run = $parser->tests_run;
    my $exit = $parser->exit // 0;
    if ($exit == 124 || $exit == 137) {
        $f++;
        push @bad, "killed after ${limit}s";
    }
    if (defined $planned && $planned > $run) {
        $f += $planned - $run;
        push @bad, "planned $planned assertions, ran $run";
    }
    elsif (!defined $planned && !$parser->skip_all) {
        $f++;
        push @bad, "no plan (the file died?)";
    }
    elsif ($exit && !@bad) {
        $f++;
        push @bad, "exited with status $exit";
    }
    $passed += $p;
    $failed += $f;
    printf "  %-28s %4d passed, %3d failed  (%.1fs)\n", $file, $p, $f, time - $t0;
    for my $b (@bad) { print "      $b\n"; }
}
print "RESULT $passed $failed\n";
