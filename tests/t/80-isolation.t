# Users see only their own data: another user's item, task, tag or token is a 404 that
# looks exactly like a missing one (no existence leak).
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

my $u = uniq('iso');
my $tag = "$u-tag";
my $url = "https://example.com/$u/shared";
my ($id, $alice_item);

section 'setup' => sub {
    my ($res, $it) = save_item('alice', $url, tags => [$tag]);
    status_is($res, 202, 'alice saves a URL');
    $id = $it ? $it->{id} : 0;
    $alice_item = get_item('alice', $id);
    ok($alice_item, 'alice reads it');
};

section "bob and alice's item" => sub {
    my $before = snapshot('alice');
    my $p1 = problem_ok(req(GET => "/api/items/$id", auth => 'bob'), 404, "bob GETs alice's item");
    problem_ok(req(PATCH => "/api/items/$id", auth => 'bob', json => { favorite => JSON::PP::true }),
               404, "bob PATCHes alice's item");
    problem_ok(req(DELETE => "/api/items/$id", auth => 'bob'), 404, "bob DELETEs alice's item");
    unchanged_ok($before, "alice's data after bob's attempts", 'alice');
    is_deeply(user_view(get_item('alice', $id)), user_view($alice_item), "alice's item is as before");

    # indistinguishable from an item that does not exist
    my $missing = 999999937;
    my $p2 = json_of(req(GET => "/api/items/$missing", auth => 'bob')) // {};
    (my $d1 = $p1->{detail} // '') =~ s/\b$id\b/N/g;
    (my $d2 = $p2->{detail} // 'x') =~ s/\b$missing\b/N/g;
    is($d1, $d2, "another user's item and a missing item give the same detail");
};

section "bob's views" => sub {
    my $ids = list_ids('bob', 'state=all') // [$id];
    ok(!grep({ $_ == $id } @$ids), "bob's list does not contain alice's item");
    my $t = list_ids('bob', 'state=all&tag=' . esc($tag)) // [$id];
    is_deeply($t, [], "bob's list filtered by alice's tag is empty");
    my $tags = json_of(req(GET => '/api/tags', auth => 'bob')) // {};
    ok(!grep({ ($_->{name} // '') eq $tag } @{ $tags->{tags} // [] }), "bob's tags do not include alice's");
};

section 'the same URL for two users' => sub {
    my ($res, $it) = save_item('bob', $url, tags => ['bobs']);
    status_is($res, 202, 'bob saves the URL alice has: a new item for bob');
    isnt($it && $it->{id}, $id, "bob's item is another item");
    is_deeply($it && $it->{tags}, ['bobs'], "bob's item has only bob's tags");
    my $a = get_item('alice', $id) // {};
    is_deeply([ sort @{ $a->{tags} // [] } ], [$tag], "alice's item did not get bob's tag");
    ($res) = save_item('alice', $url);
    status_is($res, 200, 'alice saving it again still finds her own item');
};

done_testing;
