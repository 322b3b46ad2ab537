/* producer/main.c - placeholder until the tier lands. */
#include <stdio.h>
int main(void) { fputs("not built yet\n", stderr); return 1; }
