//! The machine's process table, read from `/proc`: wharfd's services (native or in
//! containers) run on this machine, each leading its own process group.

pub struct Process {
    pub pid: u32,
    pub parent: u32,
    pub group: u32,
    pub state: String,
    pub command: String,
    /// CPU time used so far (user + system), in clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory, in pages.
    pub rss_pages: u64,
}

pub fn all_processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut processes: Vec<Process> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_process)
        .collect();
    processes.sort_by_key(|p| p.pid);
    processes
}

fn read_process(pid: u32) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces, follow the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let command = cmdline
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    // After the name: state(0) ppid(1) pgrp(2) … utime(11) stime(12) … rss(21).
    let number = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Some(Process {
        pid,
        state: (*fields.first()?).to_owned(),
        parent: fields.get(1)?.parse().ok()?,
        group: fields.get(2)?.parse().ok()?,
        command,
        cpu_ticks: number(11) + number(12),
        rss_pages: number(21),
    })
}
