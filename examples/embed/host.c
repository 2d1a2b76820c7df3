/* examples/embed/host.c: a C program that owns its event loop and runs
 * corio tasks inside it. It creates a lua_State, loads corio, runs a Lua
 * script that spawns tasks (a TCP echo server, clients, timers), and then
 * drives everything from its own poll() loop through corio_host.h, also
 * watching its own fd (a pipe it writes to from a "host" timer).
 *
 * Build (from the repository root):
 *   gcc -Icsrc -I/usr/include/lua5.4 examples/embed/host.c -llua5.4 -o host
 * Run:  ./host examples/embed/tasks.lua */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <lualib.h>
#include "corio_host.h"

static int fail(lua_State *L, const char *what)
{
    fprintf(stderr, "host: %s: %s\n", what, lua_tostring(L, -1));
    lua_close(L);
    return 1;
}

int main(int argc, char **argv)
{
    const char *script = argc > 1 ? argv[1] : "examples/embed/tasks.lua";
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (corio_host_open(L) < 0)
        return fail(L, "loading corio");
    if (luaL_dofile(L, script) != LUA_OK)
        return fail(L, script);
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return perror("pipe"), 1;
    int live, turns = 0, host_events = 0;
    while ((live = corio_host_step(L, 0)) > 0) {
        struct pollfd p[2] = {{corio_host_pollfd(L), POLLIN, 0}, {pipefd[0], POLLIN, 0}};
        if (turns++ % 50 == 0 && write(pipefd[1], "x", 1) != 1)   /* the host's own work */
            return perror("write"), 1;
        if (poll(p, 2, corio_host_timeout_ms(L, 1000)) < 0)
            return perror("poll"), 1;
        char c;
        if ((p[1].revents & POLLIN) && read(pipefd[0], &c, 1) == 1)
            host_events++;
    }
    if (live < 0)
        return fail(L, "step");
    lua_getglobal(L, "RESULT");
    printf("host: tasks finished after %d turns, %d host events; result: %s\n",
           turns, host_events, lua_tostring(L, -1));
    lua_close(L);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}
