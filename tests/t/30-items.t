# Items: save (202 / 200 existing), canonical URLs, GET, PATCH, DELETE.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

my $u = uniq('items');
my $T = JSON::PP::true;
my $F = JSON::PP::false;

sub item_shape_ok {
    my ($it, $name) = @_;
    $it = {} unless ref $it eq 'HASH';
    is(json_type($it->{id}), 'number', "$name: id is a number");
    for my $k (qw(url given_url state)) {
        is(json_type($it->{$k}), 'string', "$name: $k is a string");
    }
    for my $k (qw(title excerpt error)) {
        ok(exists $it->{$k} && json_type($it->{$k}) =~ /^(string|null)$/,
           "$name: $k is a string or null");
    }
    ok(JSON::PP::is_bool($it->{archived}) && JSON::PP::is_bool($it->{favorite}),
       "$name: archived and favorite are booleans");
    is(json_type($it->{progress}), 'number', "$name: progress is a number");
    is(json_type($it->{tags}), 'array', "$name: tags is an array");
    iso_ok($it->{created}, "$name: created");
    iso_ok($it->{updated}, "$name: updated");
}

my ($item, $task_id);
my $given = "HTTPS://Example.COM:443/$u/Path?q=1#top";
my $canon = "https://example.com/$u/Path?q=1";

section 'save a new URL' => sub {
    my $res = req(POST => '/api/items', auth => 'alice',
                  json => { url => $given, tags => [qw(news tech)], title => 'optional' });
    my $d = json_ok($res, 202, 'save new URL') // {};
    $task_id = location_id($res, 'tasks');
    ok(defined $task_id, 'save: Location /api/tasks/{id}')
        or diag('  Location: ' . ($res->header('Location') // '-'));
    $item = $d->{item} // {};
    item_shape_ok($item, 'save: item');
    is($item->{url}, $canon, 'save: url is canonical (scheme/host lower-cased, port and fragment dropped)');
    is($item->{given_url}, $given, 'save: given_url is what was sent');
    is($item->{state}, 'pending', 'save: state pending');
    is($item->{title}, 'optional', 'save: title from the request');
    is_bool_val($item->{archived}, 0, 'save: archived');
    is_bool_val($item->{favorite}, 0, 'save: favorite');
    is($item->{progress}, 0, 'save: progress 0');
    is_deeply([ sort @{ $item->{tags} // [] } ], [qw(news tech)], 'save: tags');
    my $task = $d->{task} // {};
    is($task->{id}, $task_id, 'save: task.id matches the Location');
    is($task->{state}, 'queued', 'save: task.state queued');
    is($task->{item_id}, $item->{id}, 'save: task.item_id is the item');
};

my $id = $item->{id} // 0;

section 'save the same URL again' => sub {
    for my $variant ("https://example.com/$u/Path?q=1#other",
                     "https://EXAMPLE.com/$u/Path?q=1",
                     "https://example.com:443/$u/Path?q=1",
                     "HTTPS://example.com/$u/Path?q=1#") {
        my $res = req(POST => '/api/items', auth => 'alice', json => { url => $variant });
        my $d = json_ok($res, 200, "save again as $variant") // {};
        ok(JSON::PP::is_bool($d->{existing}) && $d->{existing}, "$variant: existing is true");
        is($d->{item}{id}, $id, "$variant: same item id");
        like($res->header('Content-Location') // '', qr{(^|//[^/]+)/api/items/$id$},
             "$variant: Content-Location /api/items/$id");
        ok(!defined $res->header('Location') || $res->header('Location') !~ m{/api/tasks/},
           "$variant: no new task");
    }
    # new tags are added, nothing else changes
    my $res = req(POST => '/api/items', auth => 'alice',
                  json => { url => $canon, tags => [qw(tech extra)], title => 'other title' });
    my $d = json_ok($res, 200, 'save again with new tags') // {};
    is_deeply([ sort @{ $d->{item}{tags} // [] } ], [qw(extra news tech)], 'save again: tags merged');
    is($d->{item}{title}, 'optional', 'save again: title unchanged');
    is($d->{item}{given_url}, $given, 'save again: given_url unchanged');
    my $got = get_item('alice', $id) // {};
    is_deeply([ sort @{ $got->{tags} // [] } ], [qw(extra news tech)], 'GET after save again: tags merged');

    # the path is case-sensitive: another item
    my ($r2, $other) = save_item('alice', "https://example.com/$u/path?q=1");
    status_is($r2, 202, 'a URL differing in path case is a new item');
    isnt($other && $other->{id}, $id, 'path case: another id');
};

section 'canonical forms' => sub {
    my @cases = (
        ["http://Example.com:80", 'http://example.com/', 'http default port and empty path'],
        ["https://example.com:8443/$u/p#f", "https://example.com:8443/$u/p", 'non-default port kept'],
        ["https://b\x{fc}cher.example/$u", "https://xn--bcher-kva.example/$u", 'IDN host to punycode'],
    );
    for my $c (@cases) {
        my ($given, $want, $name) = @$c;
        my ($res, $it) = save_item('alice', $given);
        ok($res->code == 202 || $res->code == 200, "$name: saved")
            or diag('  got ' . $res->code . ' ' . ($res->content // ''));
        is($it && $it->{url}, $want, "$name: url $want");
    }
};

section 'GET an item' => sub {
    # the engine changes the item once (fetch refused: failed); ETags are compared after
    ok(settle('alice', $id), 'the engine is done with the item');
    my $res = req(GET => "/api/items/$id", auth => 'alice');
    my $d = json_ok($res, 200, 'GET item') // {};
    item_shape_ok($d, 'GET item');
    is($d->{id}, $id, 'GET item: id');
    is($d->{url}, $canon, 'GET item: url');
    my $etag = $res->header('ETag') // '';
    like($etag, qr/^"[^"]*"$/, 'GET item: strong ETag');
    $res = req(GET => "/api/items/$id", auth => 'alice', headers => { 'If-None-Match' => $etag });
    status_is($res, 304, 'GET item with If-None-Match');
    is($res->content // '', '', '304 has no body');
    $res = req(GET => "/api/items/$id", auth => 'alice', headers => { 'If-None-Match' => '"nope"' });
    status_is($res, 200, 'GET item with a non-matching If-None-Match');

    # a change gives a new ETag
    req(PATCH => "/api/items/$id", auth => 'alice', json => { progress => 0.25 });
    $res = req(GET => "/api/items/$id", auth => 'alice', headers => { 'If-None-Match' => $etag });
    status_is($res, 200, 'GET item with the old ETag after a change');
    isnt($res->header('ETag') // '', $etag, 'the ETag changed');
};

section 'PATCH' => sub {
    my $before = get_item('alice', $id) // {};
    my $d = json_ok(req(PATCH => "/api/items/$id", auth => 'alice', json => { favorite => $T }),
                    200, 'PATCH favorite') // {};
    is_bool_val($d->{favorite}, 1, 'PATCH favorite: favorite');
    is_bool_val($d->{archived}, 0, 'PATCH favorite: archived untouched');
    is($d->{title}, 'optional', 'PATCH favorite: title untouched');
    ok(($d->{updated} // '') ge ($before->{updated} // 'z'), 'PATCH favorite: updated not earlier');

    $d = json_ok(req(PATCH => "/api/items/$id", auth => 'alice',
                     json => { archived => $T, progress => 0.5 }), 200, 'PATCH archived+progress') // {};
    is_bool_val($d->{archived}, 1, 'PATCH archived');
    is($d->{progress}, 0.5, 'PATCH progress 0.5');
    is_bool_val($d->{favorite}, 1, 'PATCH archived: favorite kept');

    for my $p (0, 1) {
        $d = json_of(req(PATCH => "/api/items/$id", auth => 'alice', json => { progress => $p })) // {};
        is($d->{progress}, $p, "PATCH progress $p (boundary)");
    }

    $d = json_ok(req(PATCH => "/api/items/$id", auth => 'alice', json => { title => 'My title' }),
                 200, 'PATCH title') // {};
    is($d->{title}, 'My title', 'PATCH title: title');
    $d = json_ok(req(PATCH => "/api/items/$id", auth => 'alice', json => { title => undef }),
                 200, 'PATCH title null') // {};
    ok(exists $d->{title} && !defined $d->{title}, 'PATCH title null: no page title yet, so null');

    $d = json_ok(req(PATCH => "/api/items/$id", auth => 'alice', json => { tags => [qw(a b)] }),
                 200, 'PATCH tags') // {};
    is_deeply([ sort @{ $d->{tags} // [] } ], [qw(a b)], 'PATCH tags replaces the tags');
    $d = json_of(req(PATCH => "/api/items/$id", auth => 'alice', json => { tags => [] })) // {};
    is_deeply($d->{tags}, [], 'PATCH tags [] removes all tags');

    $d = json_ok(req(PATCH => "/api/items/$id", auth => 'alice', json => { favorite => $F },
                     ct => 'application/merge-patch+json'), 200, 'PATCH as application/merge-patch+json') // {};
    is_bool_val($d->{favorite}, 0, 'merge-patch: favorite');

    my $got = get_item('alice', $id) // {};
    is_deeply(user_view($got), user_view($d), 'GET after PATCH shows what PATCH returned');
    is($got->{url}, $canon, 'PATCH left the url alone');
};

section 'DELETE' => sub {
    my ($res, $it) = save_item('alice', "https://example.com/$u/to-delete");
    my $did = $it ? $it->{id} : 0;
    status_is($res, 202, 'save an item to delete');
    $res = req(DELETE => "/api/items/$did", auth => 'alice');
    status_is($res, 204, 'DELETE item');
    is($res->content // '', '', 'DELETE: empty body');
    problem_ok(req(GET => "/api/items/$did", auth => 'alice'), 404, 'GET deleted item');
    problem_ok(req(DELETE => "/api/items/$did", auth => 'alice'), 404, 'DELETE it again');
    problem_ok(req(PATCH => "/api/items/$did", auth => 'alice', json => { favorite => $T }), 404,
               'PATCH deleted item');
    my $ids = list_ids('alice', 'state=all') // [];
    ok(!grep({ $_ == $did } @$ids), 'deleted item is not listed');

    ($res, $it) = save_item('alice', "https://example.com/$u/to-delete");
    status_is($res, 202, 'saving a deleted URL again makes a new item');
    isnt($it && $it->{id}, $did, 'the new item has a new id');
};

done_testing;
