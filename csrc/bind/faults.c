/* faults.c: the Lua side of fault injection (core/faults.h), present only
 * in `make faults` builds: corio.faults_arm(spec), corio.faults_disarm(),
 * corio.faults_stats(). At load the module checks $CORIO_FAULTS and holds
 * it: injection starts with the first corio.run, so any script can run
 * under faults once it has loaded. */
#include <string.h>
#include <stdlib.h>
#include "bind.h"
#include "../core/faults.h"

#ifdef CORIO_FAULTS
static void arm(lua_State *L, const char *spec)
{
    char why[256] = "";
    if (corio_faults_arm(spec, why, sizeof why) < 0)
        luaL_error(L, "corio.faults_arm: %s", why);
}

/* corio.faults_arm(spec): arm (re-seed, zero the counters); true. */
static int l_faults_arm(lua_State *L)
{
    arm(L, luaL_checkstring(L, 1));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_faults_disarm(lua_State *L)
{
    corio_faults_disarm();
    lua_pushboolean(L, 1);
    return 1;
}

/* {armed, allocs, <kind> = faults injected...}; made disarmed, so
 * reading the counters cannot itself fail. */
static int l_faults_stats(lua_State *L)
{
    int was = corio_faults_armed();
    corio_faults_disarm();
    lua_createtable(L, 0, CORIO_FAULT_NKINDS + 2);
    for (int k = 0; k < CORIO_FAULT_NKINDS; k++) {
        lua_pushinteger(L, (lua_Integer)corio_faults_hits(k));
        lua_setfield(L, -2, corio_fault_name(k));
    }
    lua_pushinteger(L, (lua_Integer)corio_faults_allocs());
    lua_setfield(L, -2, "allocs");
    lua_pushboolean(L, was);
    lua_setfield(L, -2, "armed");
    if (was)
        corio_faults_rearm();
    return 1;
}

static void faults_open(lua_State *L)
{
    const char *spec = getenv("CORIO_FAULTS");
    if (spec && *spec && !corio_faults_armed()) {
        arm(L, spec);
        corio_faults_hold();
    }
}

/* corio.faults_quiet([task]): no fault while task (default: the current
 * one) runs, for a harness's own bookkeeping. */
static int l_faults_quiet(lua_State *L)
{
    l_task *t = lua_isnoneornil(L, 1) ? l_task_current(L, "corio.faults_quiet")
                                      : l_checkclass(L, 1, CL_TASK);
    t->t.uflags |= TF_NOFAULTS;
    corio_faults_quiet(t == l_rt(L)->current);
    return 0;
}

static const luaL_Reg faults_funcs[] = {
    {"faults_quiet", l_faults_quiet},
    {"faults_arm", l_faults_arm},
    {"faults_disarm", l_faults_disarm},
    {"faults_stats", l_faults_stats},
    {NULL, NULL},
};

const l_module l_faults_module = { faults_open, faults_funcs };
#else
const l_module l_faults_module = { NULL, NULL };
#endif
