# Tags: GET /api/tags (counts, sorted), PATCH /api/tags/{name} (rename, merge), DELETE.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

my $p = uniq('tg');
my ($x, $y, $z) = ("$p-x", "$p-y", "$p-z");
my $renamed = "$p x renamed";      # with a space: %20 in the path

sub tags_of {
    my $who = shift // 'alice';
    my $d = json_of(req(GET => '/api/tags', auth => $who));
    return ref $d eq 'HASH' && ref $d->{tags} eq 'ARRAY' ? $d->{tags} : [];
}
sub count_of {
    my ($name, $who) = @_;
    my ($t) = grep { ($_->{name} // '') eq $name } @{ tags_of($who) };
    return $t ? $t->{count} : undef;
}
sub tags_of_item {
    my $id = shift;
    my $it = get_item('alice', $id) // {};
    return [ sort @{ $it->{tags} // [] } ];
}

my ($A, $B, $C);
section 'setup' => sub {
    (undef, my $ia) = save_item('alice', "https://example.com/$p/a", tags => [ $x, $y ]);
    (undef, my $ib) = save_item('alice', "https://example.com/$p/b", tags => [$x]);
    (undef, my $ic) = save_item('alice', "https://example.com/$p/c", tags => [ $y, $z ]);
    ($A, $B, $C) = map { $_ ? $_->{id} : 0 } $ia, $ib, $ic;
    ok($A && $B && $C, 'saved 3 tagged items');
};

section 'list' => sub {
    my $d = json_ok(req(GET => '/api/tags', auth => 'alice'), 200, 'GET /api/tags') // {};
    my @t = @{ $d->{tags} // [] };
    is(count_of($x), 2, "count of $x");
    is(count_of($y), 2, "count of $y");
    is(count_of($z), 1, "count of $z");
    my ($e) = grep { ($_->{name} // '') eq $x } @t;
    is(json_type($e && $e->{count}), 'number', 'count is a number');
    my @names = map { $_->{name} // '' } @t;
    is_deeply(\@names, [ sort @names ], 'tags are sorted by name');
    ok(!grep({ ($_->{name} // '') =~ /^\Q$p\E/ } @{ tags_of('bob') }), "bob does not see alice's tags");
};

section 'trimming' => sub {
    my ($res, $it) = save_item('alice', "https://example.com/$p/trim", tags => ["  $p-trim  "]);
    status_is($res, 202, 'save with a tag padded by spaces');
    is_deeply($it && $it->{tags}, ["$p-trim"], 'the tag is stored trimmed');
};

section 'rename' => sub {
    my $res = req(PATCH => '/api/tags/' . esc($x), auth => 'alice', json => { name => $renamed });
    my $d = json_ok($res, 200, 'rename a tag') // {};
    is($d->{name}, $renamed, 'rename: name');
    is($d->{count}, 2, 'rename: count');
    ok(!defined count_of($x), 'rename: the old name is gone');
    is(count_of($renamed), 2, 'rename: the new name has the count');
    is_deeply(tags_of_item($A), [ sort $renamed, $y ], 'rename: item a carries the new name');
    is_deeply(tags_of_item($B), [$renamed], 'rename: item b carries the new name');
    my $l = list_ids('alice', 'state=all&tag=' . esc($x)) // [-1];
    is_deeply($l, [], 'rename: no item has the old tag');
    $l = list_ids('alice', 'state=all&tag=' . esc($renamed)) // [];
    is_deeply([ sort { $a <=> $b } @$l ], [ sort { $a <=> $b } $A, $B ], 'rename: the tag filter finds the new name');
};

section 'merge' => sub {
    # a has both; rename "x renamed" -> y merges: a, b, c
    my $d = json_ok(req(PATCH => '/api/tags/' . esc($renamed), auth => 'alice', json => { name => $y }),
                    200, 'rename onto an existing tag (merge)') // {};
    is($d->{name}, $y, 'merge: name');
    is($d->{count}, 3, 'merge: count is the union');
    ok(!defined count_of($renamed), 'merge: the old name is gone');
    is(count_of($y), 3, 'merge: list count');
    is_deeply(tags_of_item($A), [$y], 'merge: item a has the tag once');
    is_deeply(tags_of_item($B), [$y], 'merge: item b');
    is_deeply(tags_of_item($C), [ sort $y, $z ], 'merge: item c unchanged');
};

section 'delete' => sub {
    my $res = req(DELETE => '/api/tags/' . esc($z), auth => 'alice');
    status_is($res, 204, 'DELETE tag');
    is($res->content // '', '', 'DELETE tag: empty body');
    ok(!defined count_of($z), 'DELETE tag: gone from the list');
    is_deeply(tags_of_item($C), [$y], 'DELETE tag: removed from the item');
    ok(get_item('alice', $C), 'DELETE tag: the item itself stays');
    problem_ok(req(DELETE => '/api/tags/' . esc($z), auth => 'alice'), 404, 'DELETE the tag again');
    problem_ok(req(PATCH => '/api/tags/' . esc($z), auth => 'alice', json => { name => 'q' }), 404,
               'rename a deleted tag');
};

section 'unknown and other users' => sub {
    my $before = snapshot();
    problem_ok(req(PATCH => '/api/tags/' . uniq('nosuch'), auth => 'alice', json => { name => 'q' }),
               404, 'rename an unknown tag');
    problem_ok(req(DELETE => '/api/tags/' . uniq('nosuch'), auth => 'alice'), 404, 'delete an unknown tag');
    problem_ok(req(PATCH => '/api/tags/' . esc($y), auth => 'bob', json => { name => "$p-bob" }),
               404, "bob renames alice's tag");
    problem_ok(req(DELETE => '/api/tags/' . esc($y), auth => 'bob'), 404, "bob deletes alice's tag");
    unchanged_ok($before, "after the unknown tags and bob's attempts");
    is(count_of($y), 3, "alice's tag still has its count");
};

section 'bad renames' => sub {
    my $before = snapshot();
    problem_ok(req(PATCH => '/api/tags/' . esc($y), auth => 'alice', json => {}), 422,
               'rename without name', field => 'name');
    problem_ok(req(PATCH => '/api/tags/' . esc($y), auth => 'alice', json => { name => '' }), 422,
               'rename to an empty name', field => 'name');
    problem_ok(req(PATCH => '/api/tags/' . esc($y), auth => 'alice', json => { name => '   ' }), 422,
               'rename to blanks', field => 'name');
    problem_ok(req(PATCH => '/api/tags/' . esc($y), auth => 'alice', json => { name => 7 }), 422,
               'rename to a number', field => 'name');
    problem_ok(req(PATCH => '/api/tags/' . esc($y), auth => 'alice', json => { name => 't' x 1000 }), 422,
               'rename to a 1000-character name', field => 'name');
    problem_ok(req(PATCH => '/api/tags/' . esc($y), auth => 'alice', body => '{"name":}',
                   ct => 'application/json'), 400, 'rename with malformed JSON');
    problem_ok(req(PATCH => '/api/tags/' . esc($y), auth => 'alice', body => 'name=q', ct => 'text/plain'),
               415, 'rename with text/plain');
    unchanged_ok($before, 'after the bad renames');
};

done_testing;
