#!/usr/bin/perl
# The rewrite module: rewrite with each flag, captures (numbered and named)
# and the request's arguments, the limit of 10 URI changes (500 and its log
# line), redirects with their exact Location, the server's script before
# the location's, set and variables in return, every if operator (file
# tests on files made here), an if block with its own root, break,
# rewrite_log and uninitialized_variable_warn lines, -t errors with
# file:line, the YAML form of if. The same http block also runs under
# Debian's nginx (when /usr/sbin/nginx exists) and every request must get
# the same status line, body and Location from both.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;
use WmNginx;

my $t     = WmTest->new(timeout => 180);
my $P     = $t->prefix;
my ($wport, $nport) = ($t->port, $t->port);

$t->write_file('html/brk/x.txt',      "break file\n");
$t->write_file('html/brkif/x.txt',    "brkif file\n");
$t->write_file('html/alt/f.txt',      "main root\n");
$t->write_file('alt/alt/f.txt',       "alt root\n");
$t->write_file('html/exists.txt',     "exists\n");
$t->write_file('html/dir/keep',       "keep\n");
$t->write_file('html/exec.sh',        "#!/bin/sh\n");
chmod 0755, "$P/html/exec.sh" or die "chmod: $!";
symlink "$P/html/nothing-here", "$P/html/dangling" or die "symlink: $!";

my @fileops = ('-f', '!-f', '-d', '!-d', '-e', '!-e', '-x', '!-x');
my $fileops = join '', map {
    (my $n = $_) =~ s/!/not/;
    "        location = /if/$n { if ($_ \$document_root/\$arg_p) "
      . "{ return 200 \"true\\n\"; } return 200 \"false\\n\"; }\n"
} @fileops;

# The http {} body both servers get; PORT is each one's own.
sub http_body {
    my $port = shift;
    return <<"EOF";
    default_type text/plain;
    root $P/html;

    server {
        listen 127.0.0.1:$port;
        server_name rw.test;
        rewrite_log on;

        # The server's script runs before a location is chosen.
        rewrite ^/srv-old/(.*)\$ /show/\$1;
        if (\$arg_srvret) { return 200 "server if: \$arg_srvret\\n"; }
        set \$srv_var "from-server";
        rewrite ^/srv-last/(.*)\$ /show/\$1 last;
        set \$srv_var "after-srv-last";
        rewrite ^/show/ep\$ /show/ep-rewritten;

        location /show/ {
            return 200 "uri=\$uri args=\$args srv=\$srv_var\\n";
        }

        location /flag/ {
            rewrite ^/flag/none/(.*)\$ /flag/second/\$1;
            rewrite ^/flag/second/(.*)\$ /show/second-\$1;
            rewrite ^/flag/last/(.*)\$ /show/last-\$1 last;
            rewrite ^/flag/break/(.*)\$ /brk/\$1.txt break;
            rewrite ^/flag/redirect/(.*)\$ /target/\$1 redirect;
            rewrite ^/flag/permanent/(.*)\$ /target/\$1 permanent;
            rewrite ^/flag/url/(.*)\$ http://example.com/\$1;
            rewrite ^/flag/urlp/(.*)\$ https://example.com/\$1?from=rw permanent;
            rewrite ^/flag/scheme/(.*)\$ \$scheme://\$host/s/\$1;
            return 200 "flag fallthrough uri=\$uri\\n";
        }
        location /brk/ { return 200 "the brk location\\n"; }

        location /args/ {
            rewrite ^/args/keep/(.*)\$ /show/\$1 last;
            rewrite ^/args/add/(.*)\$ /show/\$1?new=\$1 last;
            rewrite ^/args/drop/(.*)\$ /show/\$1? last;
            rewrite ^/args/replace/(.*)\$ /show/\$1?only=\$1? last;
            rewrite ^/args/redir/(.*)\$ /show/\$1 redirect;
            rewrite ^/args/redirq/(.*)\$ /show/\$1?n=1 redirect;
            rewrite ^/args/redirdrop/(.*)\$ /show/\$1? redirect;
        }

        location /cap/ {
            rewrite "^/cap/(?<word>[a-z]+)/(\\d{1,3})\$" /show/\$2/\$word last;
            return 200 "no capture match\\n";
        }

        location ~ ^/nc/(?<w>\\w+)\$ {
            if (\$uri ~ ^/(n)) { return 200 "w=\$w 1=\$1\\n"; }
        }
        location /loop/ { rewrite ^/loop/(.*)\$ /loop/x\$1 last; }
        location = /loop2 { rewrite ^ /loop2; }

        location /order/ {
            set \$a "loc";
            return 200 "a=\$a srv=\$srv_var\\n";
        }

        location /set/ {
            set \$x "one";
            set \$y "\$x-two";
            set \$x "three";
            set \$args "b=\$arg_b";
            return 200 "x=\$x y=\$y args=\$args undef=[\$never]\\n";
        }
        location = /unused { set \$never "n"; return 200 "never\\n"; }

        location /ret/ {
            set \$v "before";
            return 200 "v=\$v\\n";
            set \$v "after";
        }
        location = /ret/rel { return 302 /show/rel; }
        location = /ret/url { return http://example.com/\$arg_to; }

        location = /if/var { if (\$arg_v) { return 200 "true\\n"; } return 200 "false\\n"; }
        location = /if/eq { if (\$http_x_v = "a b") { return 200 "true\\n"; } return 200 "false\\n"; }
        location = /if/eqvar { if (\$http_x_v = \$arg_w) { return 200 "true\\n"; } return 200 "false\\n"; }
        location = /if/ne { if (\$http_x_v != "a b") { return 200 "true\\n"; } return 200 "false\\n"; }
        location = /if/re { if (\$http_x_v ~ ^a(\\d+)\$) { return 200 "true \$1\\n"; } return 200 "false\\n"; }
        location = /if/rei { if (\$http_x_v ~* "^a(\\d+)\$") { return 200 "true \$1\\n"; } return 200 "false\\n"; }
        location = /if/nre { if (\$http_x_v !~ "^a\\d+\$") { return 200 "true\\n"; } return 200 "false\\n"; }
        location = /if/nrei { if (\$http_x_v !~* "^a\\d+\$") { return 200 "true\\n"; } return 200 "false\\n"; }
        location = /if/braces { if (\$http_x_v ~ "^b{2,3}\$") { return 200 "true\\n"; } return 200 "false\\n"; }
        location = /if/named { if (\$http_x_v ~ "^(?<k>\\w+)=(?<val>\\w+)\$") { return 200 "k=\$k val=\$val\\n"; } return 200 "false\\n"; }
$fileops
        location /alt/ {
            if (\$arg_alt) { root $P/alt; }
        }
        location /after/ {
            if (\$arg_a) { set \$r "in-if"; }
            return 200 "after r=[\$r]\\n";
        }
        location /brkif/ {
            if (\$arg_b) { break; }
            return 200 "not broken\\n";
        }
        location /ep/ { error_page 404 /show/ep; }
        location /epn/ { error_page 404 = \@named; }
        location \@named { return 200 "named uri=\$uri\\n"; }
        location /empty/ { rewrite ^ \$arg_x last; }
        location /toint/ { rewrite ^ /int/x last; }
        location /int/ { internal; return 200 "internal reached uri=\$uri\\n"; }
    }
EOF
}

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
@{[ http_body($wport) ]}
}
EOF
$t->start(workers => 1, ports => [$wport]) or do { $t->done; exit };

# ---- nginx, when there is one ----------------------------------------------

my $ng = WmNginx->start($t, http => http_body($nport), port => $nport,
    log_level => 'notice');

# ---- requests ----------------------------------------------------------------

sub fetch {
    my ($port, $path, @h) = @_;
    my $raw = "GET $path HTTP/1.1\r\nHost: rw.test:$port\r\n";
    $raw .= "$_\r\n" for @h;
    $raw .= "Connection: close\r\n\r\n";
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send($raw);
    return $c->read_response;
}

sub norm {
    my ($s, $port) = @_;
    return undef unless defined $s;
    $s =~ s/\b(?:nginx|wmproxy)(?:\/[\d.]+)?(?=<\/center>)/SIGNATURE/g;
    $s =~ s/\b\Q$port\E\b/PORT/g;
    return $s;
}

my $W = "http://rw.test:PORT";
my $OK = 'HTTP/1.1 200 OK';
# [name, path, [headers], status line, body (undef: a built-in page),
#  Location (undef: none); PORT stands for the server's port]
my @req = (
    [ 'server rewrite before the location', '/srv-old/a?q=1', [], $OK,
        "uri=/show/a args=q=1 srv=after-srv-last\n" ],
    [ 'server rewrite last stops the server script', '/srv-last/b', [], $OK,
        "uri=/show/b args= srv=from-server\n" ],
    [ 'server set runs when nothing stops it', '/show/c', [], $OK,
        "uri=/show/c args= srv=after-srv-last\n" ],
    [ 'server if returns before any location', '/flag/none/x?srvret=yes',
        [], $OK, "server if: yes\n" ],
    [ 'rewrite without flag goes on with the new URI', '/flag/none/x', [],
        $OK, "flag fallthrough uri=/show/second-x\n" ],
    [ 'rewrite last', '/flag/last/z', [], $OK,
        "uri=/show/last-z args= srv=after-srv-last\n" ],
    [ 'rewrite break stays in the location', '/flag/break/x', [], $OK,
        "break file\n" ],
    [ 'rewrite break to a missing file: 404', '/flag/break/nope', [],
        'HTTP/1.1 404 Not Found', undef ],
    [ 'rewrite redirect: 302 made absolute', '/flag/redirect/q', [],
        'HTTP/1.1 302 Moved Temporarily', undef, "$W/target/q" ],
    [ 'rewrite permanent: 301', '/flag/permanent/q?k=v', [],
        'HTTP/1.1 301 Moved Permanently', undef, "$W/target/q?k=v" ],
    [ 'rewrite to http:// redirects', '/flag/url/p', [],
        'HTTP/1.1 302 Moved Temporarily', undef, 'http://example.com/p' ],
    [ 'rewrite to https:// permanent, args after &', '/flag/urlp/p?k=v', [],
        'HTTP/1.1 301 Moved Permanently', undef,
        'https://example.com/p?from=rw&k=v' ],
    [ 'rewrite to $scheme://', '/flag/scheme/p', [],
        'HTTP/1.1 302 Moved Temporarily', undef, 'http://rw.test/s/p' ],
    [ 'no rewrite matches: the script goes on', '/flag/other', [], $OK,
        "flag fallthrough uri=/flag/other\n" ],
    [ 'args kept', '/args/keep/a?o=1', [], $OK,
        "uri=/show/a args=o=1 srv=after-srv-last\n" ],
    [ 'args added before the old ones', '/args/add/a?o=1', [], $OK,
        "uri=/show/a args=new=a&o=1 srv=after-srv-last\n" ],
    [ 'args added, none before', '/args/add/a', [], $OK,
        "uri=/show/a args=new=a srv=after-srv-last\n" ],
    [ 'a last ? drops the args', '/args/drop/a?o=1', [], $OK,
        "uri=/show/a args= srv=after-srv-last\n" ],
    [ 'new args and a last ?', '/args/replace/a?o=1', [], $OK,
        "uri=/show/a args=only=a srv=after-srv-last\n" ],
    [ 'a redirect keeps the args', '/args/redir/a?o=1', [],
        'HTTP/1.1 302 Moved Temporarily', undef, "$W/show/a?o=1" ],
    [ 'a redirect with args of its own', '/args/redirq/a?o=1', [],
        'HTTP/1.1 302 Moved Temporarily', undef, "$W/show/a?n=1&o=1" ],
    [ 'a redirect dropping the args', '/args/redirdrop/a?o=1', [],
        'HTTP/1.1 302 Moved Temporarily', undef, "$W/show/a" ],
    [ 'escaped captures in args', '/args/add/a%20b+c&d?o=1', [], $OK,
        "uri=/show/a b+c&d args=new=a%20b%2Bc%26d&o=1 srv=after-srv-last\n" ],
    [ 'escaped captures in a redirect', '/args/redir/a%20b?o=1', [],
        'HTTP/1.1 302 Moved Temporarily', undef, "$W/show/a%20b?o=1" ],
    [ 'numbered and named captures', '/cap/abc/12?z=9', [], $OK,
        "uri=/show/12/abc args=z=9 srv=after-srv-last\n" ],
    [ 'a named capture outlives the next match', '/nc/abc', [], $OK,
        "w=abc 1=n\n" ],
    [ 'a regex with braces that does not match', '/cap/abc/1234', [], $OK,
        "no capture match\n" ],
    [ 'rewrite last loop: 500 after 10 changes', '/loop/a', [],
        'HTTP/1.1 500 Internal Server Error', undef ],
    [ 'rewrite without flag loop: 500', '/loop2', [],
        'HTTP/1.1 500 Internal Server Error', undef ],
    [ 'a rewrite to an empty URI: 500', '/empty/', [],
        'HTTP/1.1 500 Internal Server Error', undef ],
    [ 'a rewrite to a variable', '/empty/?x=/show/v', [], $OK,
        "uri=/show/v args=x=/show/v srv=after-srv-last\n" ],
    [ 'server script, then location script', '/order/x', [], $OK,
        "a=loc srv=after-srv-last\n" ],
    [ 'set, variables in set and return, $args', '/set/x?b=2', [], $OK,
        "x=three y=one-two args=b=2 undef=[]\n" ],
    [ 'return ends the script', '/ret/x', [], $OK, "v=before\n" ],
    [ 'return 302 with a relative URL', '/ret/rel', [],
        'HTTP/1.1 302 Moved Temporarily', undef, "$W/show/rel" ],
    [ 'return URL with a variable', '/ret/url?to=abc', [],
        'HTTP/1.1 302 Moved Temporarily', undef, 'http://example.com/abc' ],
    [ 'if ($var): set', '/if/var?v=1', [], $OK, "true\n" ],
    [ 'if ($var): "0" is false', '/if/var?v=0', [], $OK, "false\n" ],
    [ 'if ($var): empty is false', '/if/var?v=', [], $OK, "false\n" ],
    [ 'if ($var): missing is false', '/if/var', [], $OK, "false\n" ],
    [ 'if =: equal', '/if/eq', ['X-V: a b'], $OK, "true\n" ],
    [ 'if =: different', '/if/eq', ['X-V: a  b'], $OK, "false\n" ],
    [ 'if =: a variable on the right', '/if/eqvar?w=q', ['X-V: q'], $OK,
        "true\n" ],
    [ 'if !=: equal', '/if/ne', ['X-V: a b'], $OK, "false\n" ],
    [ 'if !=: different', '/if/ne', ['X-V: A b'], $OK, "true\n" ],
    [ 'if ~: a match and its capture', '/if/re', ['X-V: a42'], $OK,
        "true 42\n" ],
    [ 'if ~: case matters', '/if/re', ['X-V: A42'], $OK, "false\n" ],
    [ 'if ~*: caseless', '/if/rei', ['X-V: A42'], $OK, "true 42\n" ],
    [ 'if !~: no match', '/if/nre', ['X-V: A42'], $OK, "true\n" ],
    [ 'if !~: a match', '/if/nre', ['X-V: a42'], $OK, "false\n" ],
    [ 'if !~*: a caseless match', '/if/nrei', ['X-V: A42'], $OK, "false\n" ],
    [ 'if !~*: no match', '/if/nrei', ['X-V: b'], $OK, "true\n" ],
    [ 'if ~ with braces: match', '/if/braces', ['X-V: bbb'], $OK, "true\n" ],
    [ 'if ~ with braces: no match', '/if/braces', ['X-V: bbbb'], $OK,
        "false\n" ],
    [ 'if ~ with named captures', '/if/named', ['X-V: key=v1'], $OK,
        "k=key val=v1\n" ],
    (map {
        my ($op, $p, $want) = @$_;
        (my $n = $op) =~ s/!/not/;
        [ "if ($op $p)", "/if/$n?p=$p", [], $OK, "$want\n" ]
    } (
        [ '-f', 'exists.txt', 'true' ],  [ '-f', 'dir', 'false' ],
        [ '-f', 'nothing', 'false' ],    [ '!-f', 'exists.txt', 'false' ],
        [ '!-f', 'nothing', 'true' ],    [ '-d', 'dir', 'true' ],
        [ '-d', 'exists.txt', 'false' ], [ '!-d', 'dir', 'false' ],
        [ '!-d', 'nothing', 'true' ],    [ '-e', 'exists.txt', 'true' ],
        [ '-e', 'dir', 'true' ],         [ '-e', 'nothing', 'false' ],
        [ '-e', 'dangling', 'false' ],   [ '!-e', 'nothing', 'true' ],
        [ '!-e', 'dir', 'false' ],       [ '-x', 'exec.sh', 'true' ],
        [ '-x', 'exists.txt', 'false' ], [ '-x', 'nothing', 'false' ],
        [ '!-x', 'exists.txt', 'true' ], [ '!-x', 'exec.sh', 'false' ],
    )),
    [ 'if block with its own root: false', '/alt/f.txt', [], $OK,
        "main root\n" ],
    [ 'if block with its own root: true', '/alt/f.txt?alt=1', [], $OK,
        "alt root\n" ],
    [ 'after the if block the script goes on', '/after/x?a=1', [], $OK,
        "after r=[in-if]\n" ],
    [ 'a false if skips its block', '/after/x', [], $OK, "after r=[]\n" ],
    [ 'break in an if', '/brkif/x.txt?b=1', [], $OK, "brkif file\n" ],
    [ 'no break', '/brkif/x.txt', [], $OK, "not broken\n" ],
    [ 'a rewrite reaches an internal location', '/toint/q', [], $OK,
        "internal reached uri=/int/x\n" ],
    [ 'error_page runs the server script again', '/ep/missing', [],
        'HTTP/1.1 404 Not Found',
        "uri=/show/ep-rewritten args= srv=after-srv-last\n" ],
    [ 'a named location skips the server script', '/epn/missing', [],
        $OK, "named uri=/epn/missing\n" ],
    [ 'an internal location is not there for a client', '/int/x', [],
        'HTTP/1.1 404 Not Found', undef ],
);

my $off = $t->log_size;
for my $q (@req) {
    my ($name, $path, $h, $line, $body, $loc) = @$q;
    my $w = fetch($wport, $path, @$h);
    if ($w->{error}) {
        fail("$name: $w->{error}");
        next;
    }
    is($w->{line}, $line, "$name: $line");
    is($w->{body}, $body, "$name: body") if defined $body;
    is(norm($w->{h}{location}, $wport) // '<none>', $loc // '<none>',
        "$name: Location " . ($loc // '<none>'));
    next unless $ng;
    my $n = fetch($nport, $path, @$h);
    if ($n->{error}) {
        fail("nginx: $name: $n->{error}");
        next;
    }
    is($w->{line}, $n->{line}, "nginx: $name: status line");
    is(norm($w->{body}, $wport), norm($n->{body}, $nport), "nginx: $name: body");
    is(norm($w->{h}{location}, $wport) // '<none>',
        norm($n->{h}{location}, $nport) // '<none>',
        "nginx: $name: Location");
}

# ---- the error log ---------------------------------------------------------------

my $log = $t->log_since($off);
my $cycle = 'rewrite or internal redirection cycle while processing '
  . '"/loop/' . ('x' x 11) . 'a", client: 127.0.0.1, server: rw.test, '
  . "request: \"GET /loop/a HTTP/1.1\", host: \"rw.test:$wport\"";
like($log, qr/\[error\] \d+#\d+: \Q$cycle\E$/m, 'the cycle is logged');
like($log, qr/\[error\] \d+#\d+: rewrite or internal redirection cycle while processing "\/loop2"/,
    'the cycle without flag is logged');
like($log, qr/\[error\] \d+#\d+: the rewritten URI has a zero length, client: 127\.0\.0\.1, server: rw\.test, request: "GET \/empty\/ HTTP\/1\.1"/,
    'the empty URI is logged');
like($log, qr/\[notice\] \d+#\d+: "\^\/flag\/last\/\(\.\*\)\$" matches "\/flag\/last\/z", client/,
    'rewrite_log: a match');
like($log, qr/\[notice\] \d+#\d+: "\^\/srv-old\/\(\.\*\)\$" does not match "\/flag\/last\/z", client/,
    'rewrite_log: no match');
like($log, qr/\[notice\] \d+#\d+: rewritten data: "\/show\/last-z", args: "", client/,
    'rewrite_log: the new URI');
like($log, qr/\[notice\] \d+#\d+: rewritten data: "\/show\/a", args: "new=a&o=1", client/,
    'rewrite_log: the new URI and args');
like($log, qr/\[notice\] \d+#\d+: rewritten redirect: "\/target\/q", client/,
    'rewrite_log: a redirect');
like($log, qr/\[notice\] \d+#\d+: "\^a\(\\d\+\)\$" matches "a42", client/,
    'rewrite_log: an if regex');
like($log, qr/\[warn\] \d+#\d+: using uninitialized "never" variable, client: 127\.0\.0\.1, server: rw\.test, request: "GET \/set\/x\?b=2 HTTP\/1\.1"/,
    'uninitialized_variable_warn');
if ($ng) {
    my $nlog = $ng->error_log;
    (my $ncycle = $cycle) =~ s/\Q$wport\E/$nport/;
    like($nlog, qr/\Q$ncycle\E/, 'nginx logs the same cycle line');
    like($nlog, qr/using uninitialized "never" variable/,
        'nginx warns of the same variable');
}
is(fetch($wport, '/show/still')->{body},
    "uri=/show/still args= srv=after-srv-last\n", 'still serving after the cycles');

$ng->stop if $ng;
$t->stop;

# ---- off switches --------------------------------------------------------------

$t->section('rewrite_log off, uninitialized_variable_warn off' => sub {
    my $p = $t->port;
    $t->write_conf(<<"EOF", name => 'quiet.conf');
worker_processes 1;
events { }
http {
    rewrite_log on;
    server {
        listen 127.0.0.1:$p;
        location / {
            rewrite_log off;
            uninitialized_variable_warn off;
            rewrite ^/q/(.*)\$ /r/\$1;
            return 200 "[\$unset] \$uri\\n";
        }
        location /never { set \$unset 1; }
    }
}
EOF
    $t->start(workers => 1, ports => [$p]) or return;
    my $o = $t->log_size;
    is(fetch($p, '/q/z')->{body}, "[] /r/z\n", 'rewrite and empty variable');
    my $l = $t->log_since($o);
    unlike($l, qr/matches|rewritten|uninitialized/,
        'no rewrite_log or uninitialized lines');
    $t->stop;
});

# ---- the YAML form of if -------------------------------------------------------

$t->section('if in YAML' => sub {
    my $text = $t->write_conf(<<"EOF", raw => 1, name => 'if.conf');
events { }
http {
    server {
        if (\$http_x ~* "^foo{1,2}\$") {
            return 403;
        }
        location / {
            if (\$a = "b c") {
                set \$a 1;
                root html;
            }
            if (-f \$request_filename) {
                break;
            }
            rewrite ^ /x last;
        }
    }
}
EOF
    my $yaml = $t->write_yaml(<<'EOF', raw => 1, name => 'if.yaml');
events: {}
http:
  server:
    - if ($http_x ~* "^foo{1,2}$"):
        return: 403
    - location /:
        - if ($a = "b c"):
            - set $a: 1
            - root: html
        - if (-f $request_filename):
            break: []
        - rewrite ^ /x: last
EOF
    my $rt = $t->run('-p', "$P/", '-c', $text, '-T');
    my $ry = $t->run('-p', "$P/", '-c', $yaml, '-T');
    is($rt->{code}, 0, 'if: the text form passes -T') or diag($rt->{stderr});
    is($ry->{code}, 0, 'if: the YAML form passes -T') or diag($ry->{stderr});
    is($ry->{stdout}, $rt->{stdout}, 'if: YAML gives the text form\'s tree');
    like($rt->{stdout}, qr/^ +if \(\$a = "b c" \) \{$/m,
        'if: -T prints the condition');
});

# ---- -t errors -------------------------------------------------------------------

my @bad = (
    [ 'a bad regex', 'location / { rewrite "(" /x; }',
        qr/:8: "rewrite" directive has an invalid regex "\(": missing closing parenthesis at 1\n/ ],
    [ 'a bad rewrite flag', 'location / { rewrite ^ /x lst; }',
        qr/:8: "rewrite" directive has invalid parameter "lst"\n/ ],
    [ 'an empty replacement', 'location / { rewrite ^ ""; }',
        qr/:8: "rewrite" directive has an empty replacement\n/ ],
    [ 'return 99', 'location / { return 99; }',
        qr/:8: "return" directive has invalid return code "99"\n/ ],
    [ 'return 1000', 'return 1000 x;',
        qr/:8: "return" directive has invalid return code "1000"\n/ ],
    [ 'return of a word', 'return abc;',
        qr/:8: "return" directive has invalid return code "abc"\n/ ],
    [ 'an unknown variable', 'location / { set $a $nosuch; }',
        qr/:8: "set" directive uses unknown "nosuch" variable\n/ ],
    [ 'an unknown variable in return', 'location / { return 200 $nosuch; }',
        qr/:8: "return" directive uses unknown "nosuch" variable\n/ ],
    [ 'set without $', 'location / { set a 1; }',
        qr/:8: "set" directive has invalid variable name "a"\n/ ],
    [ 'set of a built-in variable', 'location / { set $uri 1; }',
        qr/:8: "set" directive cannot set the built-in "uri" variable\n/ ],
    [ 'a bad regex in if', 'location / { if ($uri ~ "(") { } }',
        qr/:8: "if" directive has an invalid regex "\(": missing closing parenthesis at 1\n/ ],
    [ 'an unknown operator', 'location / { if ($uri ~~ a) { } }',
        qr/:8: "if" directive has unexpected "~~" in condition\n/ ],
    [ 'no parenthesis', 'location / { if $uri { } }',
        qr/:8: "if" directive has invalid condition "\$uri"\n/ ],
    [ 'not a variable', 'location / { if (abc) { } }',
        qr/:8: "if" directive has invalid condition "abc"\n/ ],
    [ 'a file test without a path', 'location / { if (-f) { } }',
        qr/:8: "if" directive has invalid condition "-f"\n/ ],
    [ 'too many words', 'location / { if ($a = b c) { } }',
        qr/:8: "if" directive has unexpected "c\)" in condition\n/ ],
    [ 'an if in an if', 'location / { if ($uri) { if ($host) { } } }',
        qr/:8: "if" directive is not allowed here\n/ ],
    [ 'root in a server if', 'if ($uri) { root /x; }',
        qr/:8: "root" directive is not allowed here\n/ ],
    [ 'if without a block', 'location / { if ($a); }',
        qr/:8: "if" directive has no opening "\{"\n/ ],
    [ 'rewrite in http', undef,
        qr/:3: "rewrite" directive is not allowed here\n/ ],
);
for my $b (@bad) {
    my ($name, $line, $re) = @$b;
    my $server = defined $line ? $line : '';
    my $http = defined $line ? '' : 'rewrite ^ /x;';
    my $f = $t->write_conf(<<"EOF", raw => 1, name => 'bad.conf');
events { }
http {
    $http
    server {
        listen 127.0.0.1:$wport;
    }
    server {
        $server
    }
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $f, '-t');
    is($r->{code}, 1, "-t $name: exit 1");
    like($r->{stderr}, qr/^\Q$f\E$re/m,
        "-t $name: file:line and message") or diag($r->{stderr});
}

$t->done;
